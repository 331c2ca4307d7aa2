"""``python -m lstm_np.exercises --stubs SRC DST``: write the stub version of the exercise notebook."""

import sys

from .stubs import main

sys.exit(main())
