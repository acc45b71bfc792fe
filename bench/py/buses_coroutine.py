#!/usr/bin/env python3
"""bench/py/buses_coroutine.py FILE - the course's coexpat.py, Python 3:
pyexpat events sent into generator coroutines,

    expat_parse(open(FILE), buses_to_dicts(filter_on_field("route", "22",
        filter_on_field("direction", "North Bound", bus_locations()))))

printing the same lines as corio's samples/buses/buses.  bench/run buses
times it beside corio's variants and checks that the outputs are equal.

Changes for Python 3 only: print() is a function, next(cr) primes, and
returns_unicode is gone (names and text are str)."""
import sys
import xml.parsers.expat

from coroutine import coroutine  # bench/py/coroutine.py


def expat_parse(f, target):
    parser = xml.parsers.expat.ParserCreate()
    parser.buffer_size = 65536
    parser.buffer_text = True
    parser.StartElementHandler = \
        lambda name, attrs: target.send(('start', (name, attrs)))
    parser.EndElementHandler = \
        lambda name: target.send(('end', name))
    parser.CharacterDataHandler = \
        lambda data: target.send(('text', data))
    parser.ParseFile(f)


@coroutine
def buses_to_dicts(target):
    while True:
        event, value = (yield)
        # Look for the start of a <bus> element
        if event == 'start' and value[0] == 'bus':
            busdict = {}
            fragments = []
            # Capture text of inner elements in a dict
            while True:
                event, value = (yield)
                if event == 'start':
                    fragments = []
                elif event == 'text':
                    fragments.append(value)
                elif event == 'end':
                    if value != 'bus':
                        busdict[value] = "".join(fragments)
                    else:
                        target.send(busdict)
                        break


@coroutine
def filter_on_field(fieldname, value, target):
    while True:
        d = (yield)
        if d.get(fieldname) == value:
            target.send(d)


@coroutine
def bus_locations():
    while True:
        bus = (yield)
        print("%(route)s,%(id)s,\"%(direction)s\","
              "%(latitude)s,%(longitude)s" % bus)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: buses_coroutine.py FILE")
    with open(sys.argv[1], 'rb') as f:
        expat_parse(f, buses_to_dicts(
            filter_on_field("route", "22",
                            filter_on_field("direction", "North Bound",
                                            bus_locations()))))


if __name__ == '__main__':
    main()
