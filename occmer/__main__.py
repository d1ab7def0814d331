"""`python -m occmer` runs the same CLI as the `occmer` console script."""

from occmer.cli import main

if __name__ == "__main__":
    main()
