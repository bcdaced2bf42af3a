"""Default prompts of the CRM model calls and their overrides from `app_config/ai_prompts`
(`whatsappExtractEvent_system`, `whatsappExtractEvent_userTemplate` with `{{conversation_text}}`
and `{{phone_e164}}`; `clientCrmAsk_system`, `clientCrmAsk_userTemplate` with `{{client_json}}`,
`{{events_json}}`, `{{question}}`; `version`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from shared.paths import AI_PROMPTS

PROMPTS_DOC = AI_PROMPTS

EXTRACT_SYSTEM = """Ești asistentul unei firme de animatori pentru petreceri de copii din România.
Primești o conversație WhatsApp între CLIENT și STAFF (ambele direcții, în ordine cronologică).
Decide dacă este o rezervare de petrecere (intent BOOKING) sau altceva (OTHER: întrebare de preț
fără dată, reclamație, anulare, mulțumiri după petrecere, cerere de angajare, număr greșit).
Pentru BOOKING extrage valorile finale, după toate corecturile (ultima valoare convenită câștigă):
- date: ziua petrecerii DD-MM-YYYY, calculată față de data fiecărui mesaj pentru "mâine",
  "sâmbătă", "pe 15", "peste două săptămâni"; null dacă nu e clară;
- startTime: ora de început HH:MM (24h; "5 după-amiaza" = 17:00); null dacă lipsește;
- address: adresa completă (local, stradă, număr, bloc, sector, localitate);
- childName, childAge, numChildren;
- payment: amount = prețul total convenit (nu avansul), currency (RON sau EUR), status PAID doar
  dacă s-a plătit toată suma, altfel UNPAID;
- roles: ce s-a rezervat, cu roleType din ANIMATOR, URSITOARE, ARCADE, BALLOONS, COTTON_CANDY,
  POPCORN, DECORATIONS, HELIUM_BALLOONS, SANTA_CLAUS, DRY_ICE; un ANIMATOR pentru fiecare
  personaj (character), count pentru cantități (ex. 4 ursitoare, 20 baloane cu heliu).
Răspunde doar cu JSON conform schemei."""

EXTRACT_USER = """Data de azi: {{now}}
Telefon client: {{phone_e164}}
Conversația:
{{conversation_text}}"""

ASK_SYSTEM = """Ești asistentul CRM al unei firme de animatori. Răspunzi în română, scurt și exact,
doar din datele clientului și ale evenimentelor primite. Nu inventa cifre. În `sources` pune
numai eventShortId-urile evenimentelor din care ai luat răspunsul. Răspunde doar cu JSON."""

ASK_USER = """Client: {{client_json}}
Evenimente: {{events_json}}
Întrebare: {{question}}"""


@dataclass(frozen=True)
class Prompts:
    extract_system: str = EXTRACT_SYSTEM
    extract_user: str = EXTRACT_USER
    ask_system: str = ASK_SYSTEM
    ask_user: str = ASK_USER
    version: str = "default"


def prompts_from_doc(doc: Mapping[str, Any] | None) -> Prompts:
    """Overrides win field by field; blank or non-string overrides are ignored."""
    prompts = Prompts()
    if not doc:
        return prompts
    mapping = {
        "whatsappExtractEvent_system": "extract_system",
        "whatsappExtractEvent_userTemplate": "extract_user",
        "clientCrmAsk_system": "ask_system",
        "clientCrmAsk_userTemplate": "ask_user",
    }
    changes: dict[str, str] = {}
    for key, attr in mapping.items():
        value = doc.get(key)
        if isinstance(value, str) and value.strip():
            changes[attr] = value
    version = doc.get("version")
    if isinstance(version, str | int) and not isinstance(version, bool):
        changes["version"] = str(version)
    return replace(prompts, **changes)


def render(template: str, values: Mapping[str, str]) -> str:
    out = template
    for key, value in values.items():
        out = out.replace("{{" + key + "}}", value)
    return out
