"""Stand-in for pip's get-pip.py bootstrap, for ansible-test's sanity virtual environments.

ansible-test downloads get-pip.py from a host outside PyPI, which is not reachable where
this project is tested. This script does the same job with Python's bundled ensurepip,
then installs the requested packages from PyPI. It takes get-pip.py's arguments:
python get_pip.py [pip options] [--no-setuptools] [--no-wheel] PACKAGES.
"""
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"],
                      stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet"] + args)
