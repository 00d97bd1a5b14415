"""`python app.py [--host H] [--port P] [--auth-file FILE] [--index-dir DIR]`, same as `citeqa serve`."""

import sys

from qa.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
