"""Keep Presidio offline. Imported before anything imports Presidio (this package's first module).

Presidio's email recognizer validates domains with tldextract, whose module-level extractor reads
TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS when it is constructed (at import) and would otherwise fetch the public suffix
list over the network; empty means "use the bundled snapshot".
"""

import os

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
