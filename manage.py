#!/usr/bin/env python
from onecase.cli import main

if __name__ == "__main__":
    main()
