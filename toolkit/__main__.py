import sys

try:
    from toolkit.cli import main
except KeyboardInterrupt:          # Ctrl-C while Python was still loading
    sys.exit(130)

sys.exit(main())
