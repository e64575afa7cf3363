"""`python -m sandbox`: run the simulated BigCommerce store and Ometria account (see sandbox.server)."""

from sandbox.server import main

if __name__ == "__main__":
    main()
