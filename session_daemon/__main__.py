"""`python -m session_daemon serve ...`"""

from session_daemon.cli import main

if __name__ == "__main__":
    main()
