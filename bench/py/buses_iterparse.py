#!/usr/bin/env python3
"""bench/py/buses_iterparse.py FILE - iterbus.py in Python 3: the same
search as buses_coroutine.py with ElementTree's incremental parser, no
coroutines.  (xml.etree.cElementTree is xml.etree.ElementTree in Python 3:
the C accelerator is used by default.)

iterbus.py prints %(id)s,%(route)s; here the fields are in the order of
the course's bus_locations, so that the output is that of the other
programs, line for line."""
import sys
from xml.etree.ElementTree import iterparse


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: buses_iterparse.py FILE")
    for event, elem in iterparse(sys.argv[1], ('start', 'end')):
        if event == 'start' and elem.tag == 'buses':
            buses = elem
        elif event == 'end' and elem.tag == 'bus':
            busdict = dict((child.tag, child.text) for child in elem)
            if (busdict['route'] == '22' and
                    busdict['direction'] == 'North Bound'):
                print("%(route)s,%(id)s,\"%(direction)s\","
                      "%(latitude)s,%(longitude)s" % busdict)
            buses.remove(elem)


if __name__ == '__main__':
    main()
