"""The three-letter codes an MRZ may give as issuing state or nationality (ICAO 9303-3, section 5): ISO 3166-1
alpha-3 (from Debian's iso-codes), Germany as "D<<" instead of DEU, ICAO's own codes for organisations, British
nationality categories, refugees and stateless persons, and Utopia, the specimen state of ICAO's examples.

The camera reads these fields as a whole code from this list rather than letter by letter: the list is their check,
as the check digits are the numbers'. (The extra codes are as ICAO 9303-3 lists them to this author's knowledge;
check a new one against the document before adding it.)"""

from __future__ import annotations

import functools
import json
from pathlib import Path

ISO_3166 = Path("/usr/share/iso-codes/json/iso_3166-1.json")
ICAO_ONLY = frozenset(
    {
        "D<<",  # Germany
        "GBD",  # British Overseas Territories Citizen
        "GBN",  # British National (Overseas)
        "GBO",  # British Overseas Citizen
        "GBP",  # British Protected Person
        "GBS",  # British Subject
        "UNO",  # United Nations Organization
        "UNA",  # a specialised agency of the United Nations
        "UNK",  # UN interim administration in Kosovo
        "XBA",  # African Development Bank
        "XIM",  # African Export-Import Bank
        "XCC",  # Caribbean Community
        "XCE",  # Council of Europe
        "XCO",  # Common Market for Eastern and Southern Africa
        "XDC",  # Southern African Development Community
        "XEC",  # Economic Community of West African States
        "XES",  # Organisation of Eastern Caribbean States
        "XOM",  # Sovereign Military Order of Malta
        "XPO",  # INTERPOL
        "XXA",  # stateless person
        "XXB",  # refugee (1951 Convention)
        "XXC",  # refugee (other)
        "XXX",  # nationality unspecified
        "EUE",  # European Union
        "RKS",  # Kosovo (in use on Kosovo's documents)
        "UTO",  # Utopia: ICAO's specimen state (test documents)
    }
)


class MissingCodes(RuntimeError):
    """Debian's iso-codes is not installed (`make deps` installs it)."""


@functools.cache
def state_codes() -> frozenset[str]:
    """Every code the issuing-state and nationality fields may hold, as printed (three characters)."""
    if not ISO_3166.is_file():
        raise MissingCodes(f"{ISO_3166} missing: install Debian's iso-codes")
    entries = json.loads(ISO_3166.read_text(encoding="utf-8"))["3166-1"]
    iso = {str(entry["alpha_3"]) for entry in entries} - {"DEU"}
    return frozenset(iso) | ICAO_ONLY
