"""`python -m validation.evaluate`: COCO files in, the portal's metrics out.

The command line stays at this path for the release pipelines that call it; the work is in
`validation.analysis.coco`.
"""

import sys

from validation.analysis.coco import main

if __name__ == "__main__":
    sys.exit(main())
