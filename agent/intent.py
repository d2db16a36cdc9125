"""What the user asked for, read from one chat message: pure, deterministic, no ADK.

``parse_intent`` turns a message into an :class:`Intent`: the action (quote, deploy, logs, ...), the
ComputeRequest fields the user actually stated, and the few extra values some actions need (port, job id,
price to convert, note). It is the offline planner's understanding of the user, and the refusal check runs
in front of every model (``agent/callbacks.py``), Gemini included.

Values are passed through as stated, absurd ones too ("10000 cores"): the service rejects them with a
message that says what to change, which beats a silent clamp here.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from tools.request import GPU_MODELS, HOURS_PER_MONTH, REGIONS, WORKLOADS

Action = Literal[
    "quote", "deploy", "logs", "status", "close", "jobs", "normalize", "record", "mint", "help", "refuse"
]

REQUEST_FIELDS: tuple[str, ...] = (
    "workload",
    "image",
    "cpu",
    "memory_gib",
    "storage_gib",
    "gpu_model",
    "gpu_count",
    "region",
    "max_usd_per_hour",
    "hours",
    "objective",
)

REFUSE_FUNDS = (
    "I can't move funds: Necto never sends, transfers or withdraws tokens. I can compare offers, deploy with a "
    "deposit you approve on a confirmation card, and close a deployment to get its unused deposit back."
)
REFUSE_CONFIRMATION = (
    "I can't skip, pre-approve or accept approval in chat: every deploy or close needs your approval on a "
    "confirmation card built from the exact transaction. Ask me to deploy and I'll still show the confirmation "
    "card; approve it there."
)
REFUSE_KEYS = (
    "I can't show or handle keys, seed phrases or credentials: they never reach the chat or the model. I can "
    "show your jobs, a deployment's status and logs, or compare and deploy offers."
)


class Price(NamedTuple):
    """A price to convert: ``unit`` is one of tools.agent_tools.PriceUnit."""

    amount: float
    unit: str
    akt_usd: float | None = None  # an AKT price the user stated ("at AKT 1.30")


@dataclass(frozen=True)
class Intent:
    action: Action
    request_args: dict[str, Any] = field(default_factory=dict)
    port: int | None = None
    job_id: str | None = None
    price: Price | None = None
    note: str | None = None
    refusal: str | None = None
    follow_up: bool = False  # "deploy it", "what about in Europe?": built on the previous request
    notes: tuple[str, ...] = ()
    # "A100 vs H100", "an A6000 or an L40S?": one request per GPU model, quoted side by side
    alternatives: tuple[dict[str, Any], ...] = ()
    # How Necto sized the GPUs from a model size the user named ("llama 3 70b"), said in the reply
    sizing: str | None = None
    model: str | None = None  # a Hugging Face repo id to serve ("serve Qwen/Qwen2.5-7B-Instruct")
    act_amount: float | None = None  # "mint 20 ACT": how much ACT to mint


# --------------------------------------------------------------------------------------------------
# vocabulary

_NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "single": 1,
    "a single": 1,
    "two": 2,
    "a couple of": 2,
    "couple of": 2,
    "a pair of": 2,
    "pair of": 2,
    "dual": 2,
    "three": 3,
    "four": 4,
    "quad": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "sixteen": 16,
    "twenty": 20,
    "twenty-four": 24,
    "thirty-two": 32,
    "sixty-four": 64,
    "half a": 0.5,
    "half of a": 0.5,
    "half an": 0.5,
    "a quarter of a": 0.25,
    "quarter of a": 0.25,
    "a quarter": 0.25,
}
# longest first so "a couple of" wins over "a"
_NUM_WORDS_RE = "|".join(sorted((re.escape(w) for w in _NUMBER_WORDS), key=len, reverse=True))
_NUM = rf"(\d+(?:\.\d+)?|{_NUM_WORDS_RE})"

# (model, pattern) in match order: l40s before l40, h100/a100 before bare numbers.
_GPU_PATTERNS: tuple[tuple[str, str], ...] = (
    ("h200", r"h\s?200"),
    ("h100", r"h\s?100"),
    ("a100", r"a\s?100"),
    ("l40s", r"l\s?40\s?s"),
    ("l40", r"l\s?40"),
    ("l4", r"l4"),
    ("a6000", r"(?:rtx\s?)?a\s?6000"),
    ("a5000", r"(?:rtx\s?)?a\s?5000"),
    ("a4000", r"(?:rtx\s?)?a\s?4000"),
    ("rtx5090", r"(?:(?:geforce\s?)?rtx[\s-]?)?5090"),
    ("rtx4090", r"(?:(?:geforce\s?)?rtx[\s-]?)?4090"),
    ("rtx3090", r"(?:(?:geforce\s?)?rtx[\s-]?)?3090"),
    ("rtx3080", r"(?:(?:geforce\s?)?rtx[\s-]?)?3080"),
    ("a40", r"a40"),
    ("a30", r"a30"),
    ("a10", r"a10g?"),
    ("t4", r"t4"),
    ("v100", r"v\s?100"),
    ("p100", r"p\s?100"),
)
assert {m for m, _ in _GPU_PATTERNS} <= set(GPU_MODELS)

# (region, pattern): explicit codes first, then cities, countries, areas, continents.
_REGION_PATTERNS: tuple[tuple[str, str], ...] = (
    *((code, rf"\b{re.escape(code)}\b") for code in sorted(REGIONS, key=len, reverse=True) if "-" in code),
    (
        "eu-central",
        r"\b(?:germany|german|frankfurt|berlin|munich|falkenstein|nuremberg|central europe|"
        r"switzerland|zurich|austria|vienna|poland|warsaw|czech\w*|prague)\b",
    ),
    (
        "eu-west",
        r"\b(?:france|paris|london|uk|united kingdom|england|britain|ireland|dublin|netherlands|"
        r"amsterdam|holland|belgium|brussels|western europe|west europe)\b",
    ),
    (
        "eu-north",
        r"\b(?:sweden|stockholm|finland|helsinki|norway|oslo|denmark|copenhagen|nordics?|"
        r"northern europe|north europe)\b",
    ),
    ("eu-south", r"\b(?:italy|milan|rome|spain|madrid|portugal|lisbon|southern europe|south europe)\b"),
    (
        "us-west",
        r"\b(?:west coast|california|oregon|seattle|washington state|san francisco|bay area|"
        r"silicon valley|los angeles|san jose|nevada|las vegas|arizona|phoenix|utah|west us|"
        r"western us)\b",
    ),
    (
        "us-east",
        r"\b(?:east coast|virginia|new york|nyc|boston|new jersey|ohio|atlanta|georgia|florida|miami|"
        r"washington dc|east us|eastern us)\b",
    ),
    ("us-central", r"\b(?:texas|dallas|austin|houston|chicago|iowa|kansas|midwest|central us)\b"),
    ("ca-central", r"\b(?:toronto|montreal|quebec|ottawa)\b"),
    ("ca", r"\b(?:canada|canadian)\b"),
    ("na", r"\bnorth america\b"),
    ("sa-east", r"\b(?:brazil|sao paulo|são paulo)\b"),
    ("sa", r"\b(?:south america|latin america|latam)\b"),
    ("au-southeast", r"\b(?:australia|sydney|melbourne)\b"),
    ("oceania", r"\b(?:oceania|new zealand)\b"),
    (
        "asia-southeast",
        r"\b(?:singapore|southeast asia|south-east asia|indonesia|jakarta|vietnam|thailand|"
        r"bangkok|malaysia|philippines)\b",
    ),
    ("asia-east", r"\b(?:japan|tokyo|osaka|korea|seoul|taiwan|hong kong|china|east asia)\b"),
    ("asia-south", r"\b(?:india|mumbai|bangalore|bengaluru|delhi|chennai|south asia)\b"),
    ("asia", r"\b(?:asia|asian|apac)\b"),
    ("eu", r"\b(?:europe|european|eu)\b"),
    (
        "us",
        r"\b(?:usa|u\.s\.a?\.?|united states|america|the us|the states|in us|us based|us-based|us only|"
        r"us region|us east or west)\b",
    ),
)
assert {r for r, _ in _REGION_PATTERNS} <= set(REGIONS)

_WORKLOAD_PATTERNS: tuple[tuple[str, str], ...] = (
    ("nextjs", r"\bnext\s?\.?\s?js\b|\bnextjs\b|\bnext(?:\.js)? app\b|\bnext app\b"),
    ("wordpress", r"\bword\s?press\b|\bwp (?:site|blog)\b"),
    ("postgres", r"\bpostgres(?:ql)?\b|\bpsql\b|\bpg database\b"),
    ("jupyter", r"\bjupyter(?:lab| lab| notebook| hub)?\b|\bipython\b|\bnotebook server\b|\ba notebook\b"),
    ("vllm", r"\bvllm\b|\bv-llm\b"),
    ("ollama", r"\bollama\b"),
    ("comfyui", r"\bcomfy\s?ui\b|\bcomfy\b|\bstable[\s-]?diffusion\b|\bsdxl\b|\bautomatic1111\b|\ba1111\b"),
    ("react", r"\breact(?:\.js|js)?\b(?! native)"),
    ("vue", r"\bvue(?:\.js|js)?\b"),
    (
        "static",
        r"\bstatic (?:web)?site\b|\bstatic (?:html|page|pages|files|web)\b|\bhtml (?:site|page|website)\b|"
        r"\bplain html\b|\blanding page\b|\bjust html\b",
    ),
)
assert {w for w, _ in _WORKLOAD_PATTERNS} <= set(WORKLOADS)

# Image names that imply a template (docker.io/library/postgres:16 -> postgres).
_IMAGE_WORKLOADS = {
    "wordpress": "wordpress",
    "postgres": "postgres",
    "jupyter": "jupyter",
    "ollama": "ollama",
    "vllm": "vllm",
    "vllm-openai": "vllm",
    "comfyui": "comfyui",
}

_APP_NOUN = re.compile(
    r"\b(?:app|application|api|service|bot|website|web ?site|site|server|container|backend|frontend|blog|"
    r"microservice|project)s?\b"
)

_OBJECTIVE_PATTERNS: tuple[tuple[str, str], ...] = (
    (
        "cheapest",
        r"\b(?:cheap|cheapest|cheaply|cheaper|lowest (?:price|cost)|least expensive|inexpensive|"
        r"affordable|budget[- ]friendly|on a budget|low[- ]cost|as little as possible|save money)\b",
    ),
    (
        "fastest",
        r"\b(?:fast|fastest|faster|quickest|most powerful|high[- ]performance|best performance|"
        r"top performance|as fast as possible|maximum performance|beefiest)\b",
    ),
    (
        "reliable",
        r"\b(?:reliable|reliably|reliability|production|production[- ]grade|stable|high uptime|"
        r"uptime|dependable|mission[- ]critical|rock[- ]solid|always[- ]on)\b",
    ),
    ("balanced", r"\bbalanced\b"),
)

_TIME_UNITS_H = {
    "minute": 1 / 60,
    "min": 1 / 60,
    "hour": 1.0,
    "hr": 1.0,
    "h": 1.0,
    "day": 24.0,
    "night": 12.0,
    "week": 168.0,
    "wk": 168.0,
    "weekend": 48.0,
    "fortnight": 336.0,
    "month": float(HOURS_PER_MONTH),
    "mo": float(HOURS_PER_MONTH),
    "year": 8760.0,
    "yr": 8760.0,
}


def _unit_hours(word: str) -> float:
    word = word.lower().rstrip(".")
    if word in _TIME_UNITS_H:
        return _TIME_UNITS_H[word]
    if word.endswith("ly"):  # hourly, daily, weekly, monthly, yearly
        return {
            "hourly": 1.0,
            "daily": 24.0,
            "weekly": 168.0,
            "monthly": float(HOURS_PER_MONTH),
            "yearly": 8760.0,
            "nightly": 12.0,
        }[word]
    return _TIME_UNITS_H[word.rstrip("s")]


def _number(token: str) -> float:
    token = token.strip().lower().replace(",", "")
    if token in _NUMBER_WORDS:
        return float(_NUMBER_WORDS[token])
    return float(token)


def _int_or_float(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


# --------------------------------------------------------------------------------------------------
# refusals: checked before anything else, and in front of every model (agent/callbacks.py)

_REFUSALS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        REFUSE_KEYS,
        re.compile(
            r"\b(?:private|secret|signing|priv|owner|wallet)[\s_-]*keys?\b|\bseed[\s_-]*(?:phrase|words?)\b|"
            r"\bmnemonic\b|\brecovery[\s_-]*(?:phrase|words?)\b|\bsecret[\s_-]*phrase\b|\bkey[\s_-]*(?:file|store|ring)\b|"
            r"\bkeyring\b|\bapi[\s_-]*keys?\b|\bgoogle_api_key\b|"
            r"\b(?:show|print|reveal|display|give|tell|export|dump|leak|send|email|paste|read out)\b[^.?!]{0,30}"
            r"\b(?:your|my|the|its|wallet|account|signer'?s?)\s+(?:keys?|credentials|secrets?)\b"
        ),
    ),
    (
        REFUSE_FUNDS,
        re.compile(
            r"\b(?:send|transfer|wire|move|pay|give|tip|donate|bridge|swap)\b[^.?!]{0,40}?\b\d[\d,.]*\s*"
            r"(?:akt|act|uakt|uact|usdc|atom|tokens?|coins?)\b|"
            r"\b(?:send|transfer|wire|move|pay|give|tip|donate)\b[^.?!]{0,60}\bto\s+(?:akash1|cosmos1|osmo1|0x|"
            r"this address|that address|the address|an address|address|my other wallet|another wallet|wallet)|"
            r"\b(?:transfer|send|move|drain|empty|sweep)\b[^.?!]{0,30}\b(?:balance|funds|tokens|money|wallet|account)\b|"
            r"\bwithdraw(?:al|s|ing)?\b|"
            r"\bpay (?:to )?(?:this|that|the|an) (?:address|wallet|account|invoice)\b|"
            r"\bakash1[0-9a-z]{8,}\b"
        ),
    ),
    (
        REFUSE_CONFIRMATION,
        re.compile(
            r"\bwithout (?:asking|confirm\w*|approv\w*|my (?:approval|confirmation|permission|ok)|a confirmation|"
            r"the confirmation|the card|prompting|checking with me|a prompt)\b|"
            r"\b(?:skip|bypass|disable|turn off|ignore|avoid|suppress|circumvent|no need for|don'?t (?:need|show|want))"
            r"\b[^.?!]{0,30}\b(?:confirm\w*|approv\w*|card|prompt)\b|"
            r"\bauto[\s-]?(?:approv|confirm|sign|accept)\w*|\bpre[\s-]?(?:approv|confirm|authori[sz])\w*|"
            r"\b(?:permission|authori[sz]ation|authori[sz]ed|allowed|free) to sign\b|"
            r"\bsign (?:anything|everything|whatever|all)\b|"
            r"\b(?:ignore|disregard|forget|override)\b[^.?!]{0,25}\b(?:previous|prior|above|earlier|all|your|system|the)"
            r"\b[^.?!]{0,15}\b(?:instructions?|rules?|prompts?|guidelines|guardrails?|policy|policies)\b|"
            r"\bdon'?t (?:ask|bother asking|check with)\b|"
            r"\b(?:i (?:already |hereby )?(?:approve|confirm|consent|authori[sz]e)\b(?! the card)|"
            r"consider (?:it|this|that) (?:approved|confirmed)|(?:it'?s|it is|this is) (?:pre-?)?approved)\b|"
            r"\b(?:developer|admin|god|jailbreak|dan) mode\b"
        ),
    ),
)


def refusal_for(text: str) -> str | None:
    """The refusal sentence when ``text`` asks to move funds, skip confirmation or reveal keys, else None."""
    lowered = _lower(text)
    for sentence, pattern in _REFUSALS:
        if pattern.search(lowered):
            return sentence
    return None


# --------------------------------------------------------------------------------------------------
# action detection

_HELP = re.compile(
    r"^\W*(?:help|/help|what can you do|what do you do|how does (?:this|it|necto) work|commands|"
    r"hi|hello|hey|who are you|what are you)\W*$"
)
_FOLLOW_UP_DEPLOY = re.compile(
    r"^\W*(?:(?:ok(?:ay)?|yes|yeah|yep|sure|great|perfect|cool|alright|good|nice|fine)\b[\s,!.]*)*(?:please\s+)?"
    r"(?:(?:deploy|launch|ship|run|start|book|take)\s+(?:it|that|this|them|that one|this one|the (?:first|best|"
    r"cheapest|top|recommended)(?: one| offer)?)\b|go ahead|do it|let'?s do it|let'?s go|proceed|ship it|yes please|"
    r"sounds good|go for it)|^\W*(?:yes|yeah|yep|sure|ok(?:ay)?)\W*$"
)
_FOLLOW_UP_QUOTE = re.compile(
    r"^\W*(?:(?:what|how) about\b|and\b|same\b|make it\b|now\b|but\b)|\binstead\b|\bsame (?:thing|setup|request)\b"
)
_NORMALIZE_TRIGGER = re.compile(
    r"\bconvert\b|\bin (?:dollars|usd|\$)|\bto (?:usd|dollars)\b|\bhow much is\b|\bwhat(?:'s| is)\b[^?]*\bin\b"
)
# "deploy X and record it on chain" asks for a tracked deploy, not for record_job.
_ON_CHAIN_RECORD = re.compile(r"\brecord\s+(?:it\s+|this\s+|the\s+job\s+)?on[\s-]?chain\b")
_RECORD = re.compile(
    r"\brecord\b|\bsave (?:a |this |the |that )?(?:note|job|this|that|it)\b|"
    r"\b(?:add|leave|take|make|jot down|write) (?:a |this )?note\b|^\W*note\s*:|"
    r"\bremember (?:this|that) (?:job|deployment)\b|\blog (?:this|that) (?:job|deployment)\b"
)
_CLOSE = re.compile(
    r"\bshut\s*(?:it|this|that|them|everything|all|(?:the|my) \w+(?: \w+)?|job \S+)?\s*down\b|\bshutdown\b|"
    r"\bclose\b(?!\s+to\b)|\bstop\b|\btear\s*(?:it|this|that|them|everything|(?:the|my) \w+|job \S+)?\s*down\b|"
    r"\bteardown\b|\bterminate\b|\bkill\b|\bundeploy\b|"
    r"\b(?:delete|destroy|cancel|remove|end|decommission)\s+(?:the |my |this |that |it\b|job|deployment|lease|"
    r"everything)|\btake (?:it|this|that|them|my \w+|the \w+) (?:down|offline)\b|"
    r"\bturn (?:it|this|that|them|my \w+|the \w+) off\b|\bget my deposit back\b|\brefund\b"
)
# Minting ACT from AKT (deposits are paid in ACT since chain v2): "mint 20 ACT", "I need ACT", "top up ACT".
_MINT = re.compile(
    r"\bmint(?:ing)?\b[^?!\n]{0,25}\bact\b|\bmint\s+(?:\d[\d,]*(?:\.\d+)?|some|more)\b|"
    r"\b(?:need|want|get|buy)\s+(?:more\s+|some\s+)?act\b|\btop[\s-]?up\s+(?:my\s+|the\s+|some\s+)?act\b|"
    r"\bconvert\s+(?:my\s+|some\s+)?(?:\d[\d,]*(?:\.\d+)?\s*)?akt\s+(?:to|into)\s+act\b|"
    r"\b(?:not enough|out of|short (?:of|on)|no)\s+act\b"
)
_ACT_AMOUNT = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s*act\b|\bmint\s+(\d[\d,]*(?:\.\d+)?)\b")
_LOGS = re.compile(
    r"\blogs?\b|\btail\b|\bstdout\b|\bstderr\b|\bprint(?:ing|ed|s)?\b|\boutput\b|\bconsole\b|"
    r"\bcrash(?:ed|es|ing)?\b|\bwhat(?:'s| is) (?:it|my \w+|the \w+) (?:saying|doing|logging)\b|"
    r"\b(?:errors?|exceptions?|stack ?traces?)\b"
)
_STATUS = re.compile(
    r"\bstatus\b|\bis (?:it|my [\w.]+(?: \w+)?|the [\w.]+(?: \w+)?|this|that|everything) (?:still )?(?:running|up|alive|"
    r"live|online|working|healthy|ready|deployed|done|ok|active)\b|"
    r"\b(?:what|where)(?:'s| is| are) (?:the|my|its) (?:url|uri|link|address|endpoint|ip|domain|hostname)s?\b|"
    r"\b(?:urls?|uris?|endpoints?|hostname)\b|\bhow(?:'s| is) (?:it|my \w+(?: \w+)?|the \w+(?: \w+)?) (?:doing|going)\b|"
    r"\bhealth(?:y)?\b|\bescrow\b|\bcost so far\b|\bis it up\b|\bdid it (?:work|start|deploy)\b"
)
_JOBS = re.compile(
    r"\b(?:list|show|see|view|display)\b[^.?!]{0,20}\b(?:jobs|deployments|leases|history)\b|\bmy (?:jobs|deployments)\b|"
    r"\bwhat (?:have i|did i|i'?ve) (?:deployed|launched|run|got running|spent)\b|\bhistory\b|"
    r"\bwhat(?:'s| is) running\b|\ball (?:my )?(?:jobs|deployments)\b|\bhow much have i spent\b|\bpast jobs\b"
)
_STRONG_DEPLOY = re.compile(
    r"\b(?:deploy|redeploy|launch|spin\s+(?:it\s+|one\s+|this\s+|that\s+|them\s+)?up|ship|go live|"
    r"put (?:it |this |that |my \w+ )?(?:online|live|up))\b"
)
_WEAK_DEPLOY = re.compile(
    r"\b(?:run|host|serve|start|set\s+up|setup|stand\s+up|bring\s+up|create|rent|provision|book|install|"
    r"get (?:it|this|my \w+(?: \w+)?) (?:running|online|up))\b"
)
_QUOTE = re.compile(
    r"\b(?:cheapest|find|compare|comparison|how much|prices?|pricing|costs?|quotes?|offers?|options|estimate|"
    r"what would|best deal|deals|lowest price|search|look(?:ing)? for|available|availability|which provider|"
    r"who (?:has|offers)|shop around|rates?)\b"
)


# --------------------------------------------------------------------------------------------------
# extraction over a masked copy of the text: each value found blanks its span so the next pass can't
# read it twice ("nginx:1.27" is not port 1; "$10 a month" is not a one-month duration).


class _Masked:
    def __init__(self, text: str) -> None:
        self.text = text

    def take(self, pattern: re.Pattern[str] | str) -> re.Match[str] | None:
        match = re.search(pattern, self.text) if isinstance(pattern, str) else pattern.search(self.text)
        if match:
            self.blank(match.start(), match.end())
        return match

    def blank(self, start: int, end: int) -> None:
        self.text = self.text[:start] + " " * (end - start) + self.text[end:]


def _lower(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "")
    text = text.replace("×", "x").replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    text = text.replace("…", " ").replace("—", " ").replace("–", "-")
    return text.lower()


_IMAGE_TOKEN = re.compile(
    r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*(?::\d+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$"
)
_NOT_IMAGE_NAMES = {
    "port",
    "localhost",
    "http",
    "https",
    "note",
    "url",
    "uri",
    "job",
    "id",
    "ip",
    "tcp",
    "udp",
}
_IMAGE_CUE = re.compile(r"\b(?:image|container|docker|from|using|use|with)\s*$")


def _find_image(original: str, masked: _Masked) -> str | None:
    for match in re.finditer(r"\S+", original):
        token = match.group().strip("()[]{}\"'`<>,;!?").rstrip(".:")
        if not token or "://" in token or token.startswith("$"):
            continue
        if not _IMAGE_TOKEN.match(token.lower() if "@" not in token else token):
            continue
        name, _, tag = (
            token.partition("@")[0].rpartition(":") if ":" in token.split("/")[-1] else (token, "", "")
        )
        has_tag = bool(tag)
        if has_tag:
            base = name.split("/")[-1].lower()
            if not re.search(r"[a-z]", base) or base in _NOT_IMAGE_NAMES:
                continue
        elif "/" in token:
            first = token.split("/")[0]
            before = original[: match.start()].lower()
            if not ("." in first or _IMAGE_CUE.search(before) or "image" in original.lower()):
                continue
            if any(seg.isdigit() for seg in token.split("/")):
                continue
        else:
            continue
        start = match.start() + match.group().find(token)
        masked.blank(start, start + len(token))
        return token
    return None


def _find_port(masked: _Masked) -> int | None:
    patterns = (
        r"\bport\s*(?:number\s*)?(?:is\s*|=\s*|:\s*|#\s*|of\s*)?(\d{1,6})\b",
        r"\b(?:listen(?:s|ing)?|serv(?:es|ing)|expos(?:es|ed|ing)|runs|running|available)\s+on\s+(?:port\s+)?:?(\d{2,6})\b",
        r"\bexpos(?:e|es|ed|ing)\s+(?:port\s+)?(\d{2,6})\b",
        r"(?:^|[\s(,])(?:localhost|0\.0\.0\.0|127\.0\.0\.1)?:(\d{2,6})\b",
    )
    for pattern in patterns:
        match = masked.take(pattern)
        if match:
            return int(match.group(1))
    return None


_AMOUNT = r"(\d[\d,]*(?:\.\d+)?)\s*(k)?"
_MONEY = rf"(?:\$\s*{_AMOUNT}|{_AMOUNT}\s*(?:usd|us dollars?|dollars?|bucks|\$)|{_AMOUNT}\s*(cents?|¢))"
_RATE = (
    r"\s*(?:/\s*|per\s+|an?\s+|each\s+|every\s+)(hours?|hrs?|h|days?|weeks?|wks?|months?|mo|years?|yrs?|night)\b"
    r"|\s*(hourly|daily|weekly|monthly|yearly|nightly)\b"
)


def _money_value(match: re.Match[str], offset: int = 0) -> float:
    """USD amount of a ``_MONEY`` match whose groups start at ``offset``."""
    groups = match.groups()[offset : offset + 7]
    dollars, k1, dollars2, k2, cents, k3, cent_word = groups
    if dollars is not None:
        value, k = dollars, k1
    elif dollars2 is not None:
        value, k = dollars2, k2
    else:
        value, k = cents, k3
    amount = float(value.replace(",", "")) * (1000 if k else 1)
    return amount / 100 if cent_word else amount


def _find_budget(masked: _Masked, notes: list[str]) -> tuple[float | None, float | None]:
    """(usd per hour, total usd) from the money phrases; a total waits for the duration."""
    rate = masked.take(re.compile(rf"{_MONEY}(?:{_RATE})"))
    if rate:
        groups = rate.groups()
        unit = groups[7] or groups[8]
        return _money_value(rate) / _unit_hours(unit), None
    total = masked.take(
        re.compile(
            rf"\b(?:budget|spend|total|all in|in total|max(?:imum)?|up to|at most|under|below|less than|no more than|"
            rf"within|cap)\b[^$\d]{{0,20}}{_MONEY}|{_MONEY}\s*(?:budget|total|in total|all in|tops)\b"
        )
    )
    if total:
        first = 0 if any(g is not None for g in total.groups()[:7]) else 7
        phrase = total.group(0)
        if re.search(r"budget|total|all in|spend|tops", phrase):
            return None, _money_value(total, first)
        notes.append(f"'{phrase.strip()}' has no period (per hour, per month); it was not used as a budget")
    return None, None


def _find_hours(masked: _Masked) -> float | None:
    if masked.take(r"\bovernight\b"):
        return 12.0
    match = masked.take(
        r"\b(?:for|over|during|lasting|next|about|around|only|just|the|whole|full)\s+(?:the\s+(?:next\s+)?|a\s+(?:full\s+|whole\s+|single\s+)?|"
        r"an\s+|one\s+|this\s+)(hour|day|night|week|weekend|month|year|fortnight)\b"
    )
    if match:
        return _unit_hours(match.group(1))
    match = masked.take(r"\bhalf an hour\b")
    if match:
        return 0.5
    match = masked.take(
        r"(?<![\w.])(\d+(?:\.\d+)?|a couple of|couple of|two|three|four|five|six|seven|eight|nine|ten|twelve|twenty|"
        r"twenty-four)[\s-]*(minutes?|mins?|hours?|hrs?|h|days?|nights?|weeks?|wks?|months?|mos?|years?|yrs?)\b"
    )
    if match:
        return _number(match.group(1)) * _unit_hours(match.group(2))
    return None


def _find_gpu(masked: _Masked, notes: list[str]) -> tuple[str | None, int | float | None]:
    count_before = rf"(?:(\d+)\s*(?:x|\*)?\s*|({_NUM_WORDS_RE})\s+)?"
    found: list[tuple[int, str, re.Match[str]]] = []
    for model, pattern in _GPU_PATTERNS:
        match = re.search(
            rf"(?<![\w.]){count_before}(?:nvidia\s+)?{pattern}(?:s\b|\b)(?:[\s-]*(\d+)\s*gb\b)?"
            rf"(?:\s*(?:x|\*)\s*(\d+)\b)?(?:\s+gpus?\b)?",
            masked.text,
        )
        if match:
            found.append((match.start(), model, match))
    if found:
        found.sort(key=lambda item: item[0])
        _, model, match = found[0]
        masked.blank(match.start(), match.end())
        if len(found) > 1:
            notes.append(f"several GPU models named; using the first, {model}")
        digits, word, vram, count_after = match.groups()
        if vram:
            notes.append(f"{model} {vram}GB: the GPU memory variant is not part of the request")
        if digits:
            return model, _int_or_float(float(digits))
        if count_after:
            return model, int(count_after)
        if word:
            return model, _int_or_float(_number(word))
        return model, None
    if masked.take(r"\b(?:no|without(?: a)?|zero) gpus?\b|\bcpu[\s-]only\b"):
        return None, 0
    match = masked.take(
        re.compile(rf"(?:(\d+)\s*(?:x\s*)?|({_NUM_WORDS_RE}|any|some)\s+)?(?:nvidia\s+)?gpus?\b")
    )
    if match:
        digits, word = match.groups()
        if digits:
            return None, int(digits)
        if word and word not in ("any", "some"):
            return None, _int_or_float(_number(word))
        return None, 1
    return None, None


_SIZE_UNIT = r"(tb|tib|terabytes?|gb|gib|gigs?|gigabytes?|g|mb|mib|megabytes?)"


def _gib(amount: str, unit: str) -> int | float:
    value = _number(amount)
    unit = unit.lower()
    if unit.startswith("t"):
        value *= 1024
    elif unit.startswith("m"):
        value /= 1024
    return _int_or_float(round(value, 6))


def _find_size(masked: _Masked, nouns: str) -> int | float | None:
    match = masked.take(rf"{_NUM}\s*{_SIZE_UNIT}\b\s*(?:of\s+)?(?:{nouns})\b")
    if match:
        return _gib(match.group(1), match.group(2))
    match = masked.take(rf"\b(?:{nouns})\s*(?:of|:|=|with|at)?\s*{_NUM}\s*{_SIZE_UNIT}\b")
    if match:
        return _gib(match.group(1), match.group(2))
    return None


def _find_cpu(masked: _Masked) -> int | float | None:
    match = masked.take(
        rf"{_NUM}[\s-]*(?:x\s*)?(?:v-?cpus?|vcores?|cpu\s+cores?|cpus?|cores?|threads?|processors?)\b"
    )
    if match:
        return _int_or_float(_number(match.group(1)))
    match = masked.take(r"\b(?:v?cpus?|cores?)\s*[:=]\s*(\d+(?:\.\d+)?)\b")
    if match:
        return _int_or_float(float(match.group(1)))
    return None


def _first(patterns: tuple[tuple[str, str], ...], text: str) -> str | None:
    return next((value for value, pattern in patterns if re.search(pattern, text)), None)


def _objective(text: str, notes: list[str]) -> str | None:
    found = [value for value, pattern in _OBJECTIVE_PATTERNS if re.search(pattern, text)]
    if not found:
        return None
    if len(found) > 1 and "balanced" not in found:
        notes.append(f"asked for {' and '.join(found)}: using balanced")
        return "balanced"
    return found[0]


_JOB_ID = re.compile(
    r"\b(?:job|deployment|dseq|lease|app)\s*(?:id\s*)?(?:#|:|=|no\.?|number)?\s*"
    r"([A-Za-z0-9][A-Za-z0-9_-]*\d[A-Za-z0-9_-]*|[0-9a-fA-F]{4,})(?![\w])"
)
_LOOSE_ID = re.compile(
    r"\b(?:for|of|on|with|to)\s+#?([0-9a-f]*\d[0-9a-f]*[a-f][0-9a-f]*|[0-9a-f]*[a-f][0-9a-f]*\d[0-9a-f]*)\b"
)


def _find_job_id(original: str) -> str | None:
    text = unicodedata.normalize("NFKC", original).replace("…", " ")
    match = _JOB_ID.search(text)
    if match:
        return match.group(1)
    match = _LOOSE_ID.search(text)
    if match and len(match.group(1)) >= 4:
        return match.group(1)
    return None


def _find_note(original: str) -> str | None:
    match = re.search(r":\s*(.+)$", original.strip(), re.S)
    if match and not re.match(r"^\d", match.group(1)):
        return match.group(1).strip()[:500] or None
    match = re.search(r"\b(?:note|saying|that says)\s+[\"'](.+?)[\"']", original)
    if match:
        return match.group(1).strip()[:500]
    match = re.search(r"\bwith (?:the )?note\s+(.+)$", original.strip())
    if match:
        return match.group(1).strip()[:500]
    return None


_BLOCK_PRICE = re.compile(
    r"(\d[\d,]*(?:\.\d+)?)\s*(uact|uakt|act|akt)?\s*(?:/\s*|per\s+|an?\s+|each\s+|every\s+)blocks?\b"
)


_AKT_PRICE = re.compile(
    r"\bakt\s*(?:price\s*)?(?:at|=|@|is|of)?\s*\$?\s*(\d+(?:\.\d+)?)\b(?!\s*(?:uakt|akt|per|/)\b)"
    r"|\$\s*(\d+(?:\.\d+)?)\s*(?:per|/|an?)\s*akt\b"
)


def _find_price(text: str) -> Price | None:
    price = _find_price_amount(text)
    stated = _AKT_PRICE.search(text)
    if price is not None and stated is not None:
        return price._replace(akt_usd=float(stated.group(1) or stated.group(2)))
    return price


def _find_price_amount(text: str) -> Price | None:
    match = _BLOCK_PRICE.search(text)
    if match:
        amount = float(match.group(1).replace(",", ""))
        denom = match.group(2) or "uact"
        if denom == "akt":
            return Price(amount * 1_000_000, "uakt_per_block")
        return Price(amount, f"{denom}_per_block")
    match = re.search(rf"{_MONEY}(?:{_RATE})", text)
    if match:
        groups = match.groups()
        unit = (groups[7] or groups[8]).lower()
        hours = _unit_hours(unit)
        if groups[6]:  # cents
            amount = float((groups[4]).replace(",", ""))
            return (
                Price(amount, "cents_per_hour") if hours == 1 else Price(amount / 100 / hours, "usd_per_hour")
            )
        usd = _money_value(match)
        if hours == 1:
            return Price(usd, "usd_per_hour")
        if hours == HOURS_PER_MONTH:
            return Price(usd, "usd_per_month")
        return Price(round(usd / hours, 6), "usd_per_hour")
    return None


# --------------------------------------------------------------------------------------------------


_HF_MODEL = re.compile(
    r"\b(?:model|serve|serving|run|running|host|with)\s+([A-Za-z0-9][\w-]*/[A-Za-z0-9][\w.-]*)(?![\w.:/-])"
)


def find_model(original: str) -> tuple[str, int, int] | None:
    """A Hugging Face repo id named as the thing to serve (no registry host, no tag: not an image)."""
    for match in _HF_MODEL.finditer(original):
        repo = match.group(1).rstrip(".")
        if "." not in repo.split("/")[0]:
            return repo, match.start(1), match.start(1) + len(repo)
    return None


def _request_args(original: str, lowered: str, notes: list[str]) -> tuple[dict[str, Any], int | None]:
    masked = _Masked(lowered)
    args: dict[str, Any] = {}
    named_model = find_model(original)
    if named_model is not None:
        masked.blank(named_model[1], named_model[2])
    image = _find_image(original, masked)
    port = _find_port(masked)
    per_hour, total = _find_budget(masked, notes)
    hours = _find_hours(masked)
    filters = _find_filters(masked)
    gpu_model, gpu_count = _find_gpu(masked, notes)
    memory = _find_size(masked, r"ram|memory|mem")
    storage = _find_size(masked, r"disk|disks|storage|ssd|nvme|hdd|space|volume|drive|persistent storage")
    cpu = _find_cpu(masked)

    workload = None
    for value, pattern in _WORKLOAD_PATTERNS:
        if masked.take(pattern):
            workload = value
            break
    rest = masked.text
    if workload is None and image:
        base = image.split("@")[0].rsplit(":", 1)[0].split("/")[-1].lower()
        workload = _IMAGE_WORKLOADS.get(base) or "custom"
    if workload is None and named_model is not None:
        workload = "vllm"
    if workload is None and _APP_NOUN.search(rest) and not gpu_model and not gpu_count:
        workload = "custom"
    if workload:
        args["workload"] = workload
    if image:
        args["image"] = image
    if cpu is not None:
        args["cpu"] = cpu
    if memory is not None:
        args["memory_gib"] = memory
    if storage is not None:
        args["storage_gib"] = storage
    if gpu_model:
        args["gpu_model"] = gpu_model
    if gpu_count is not None:
        args["gpu_count"] = gpu_count
    if not gpu_model and not gpu_count and workload in (None, "vllm", "ollama", "custom"):
        sized = llm_gpu_sizing(lowered, workload)
        if sized is not None:
            args["gpu_model"], args["gpu_count"], sentence = sized
            notes.append(sentence)
            if workload is None:
                args["workload"] = workload = "vllm"
    region = _first(_REGION_PATTERNS, rest)
    if region:
        args["region"] = region
    if hours is not None:
        args["hours"] = _int_or_float(round(hours, 6))
    if per_hour is None and total is not None:
        if hours:
            per_hour = total / hours
        else:
            notes.append(
                f"a total budget of ${total:g} needs a duration to become a price per hour; not used"
            )
    if per_hour is not None:
        args["max_usd_per_hour"] = round(per_hour, 6)
    objective = _objective(rest, notes)
    if objective:
        args["objective"] = objective
    args.update(filters)
    return args, port


# Hard filters beyond the request's own fields (tools.pricing.rank.OfferFilters), from plain phrases.
_SOURCE_NAMES = ("akash", "aws", "lambda", "ionet", "io.net", "render", "runpod", "vast", "shadeform", "spheron")
_SOURCE_ALIASES = {"io.net": "ionet", "runpod": "skypilot:runpod", "vast": "skypilot:vast",
                   "shadeform": "skypilot:shadeform", "spheron": "skypilot:spheron"}
_SOURCE_RE = "|".join(re.escape(name) for name in _SOURCE_NAMES)


def _find_filters(masked: _Masked) -> dict[str, Any]:
    """``min_vram_gib``, ``audited_only``, ``min_uptime``, ``sources``, ``pricing_models``, ``gpu_class``,
    and ``tracked`` (record the job in the ComputeRouter contract, or explicitly not)."""
    found: dict[str, Any] = {}
    vram = masked.take(
        rf"(?:\b(?:at\s+least|min(?:imum)?|over|more\s+than)\s+)?{_NUM}\s*{_SIZE_UNIT}\b\s*(?:of\s+)?"
        r"(?:vram|gpu\s+(?:memory|ram))\b"
    ) or masked.take(rf"\b(?:vram|gpu\s+memory)\s*(?:of|:|>=|at\s+least|over)?\s*{_NUM}\s*{_SIZE_UNIT}\b")
    if vram:
        found["min_vram_gib"] = _gib(vram.group(1), vram.group(2))
    if masked.take(r"\b(?:only\s+audited|audited\s+(?:providers?\s+)?only|audited\s+providers?)\b"):
        found["audited_only"] = True
    uptime = masked.take(r"\buptime\s*(?:of|above|over|>=?|at\s+least|better\s+than)?\s*(\d{2}(?:\.\d+)?)\s*%")
    if uptime and 0 < float(uptime.group(1)) <= 100:
        found["min_uptime"] = round(float(uptime.group(1)) / 100, 6)
    only = masked.take(rf"\bonly\s+(?:on|from|at|with)\s+({_SOURCE_RE})\b") or masked.take(
        rf"\b(?:on|from|at|with)\s+({_SOURCE_RE})\s+only\b"
    )
    if only:
        name = only.group(1)
        found["sources"] = [_SOURCE_ALIASES.get(name, name)]
    if masked.take(r"\b(?:no|without|avoid|not)\s+spot\b|\bon[\s-]demand\s+only\b|\bnon[\s-]spot\b"):
        found["pricing_models"] = ["fixed", "auction", "token"]
    elif masked.take(r"\bspot\s+only\b|\bonly\s+spot\b"):
        found["pricing_models"] = ["spot"]
    if masked.take(r"\b(?:untracked|not\s+tracked|off[\s-]chain\s+only|don'?t\s+track(?:\s+it)?)\b"):
        found["tracked"] = False
    elif masked.take(r"\b(?:tracked|track\s+(?:it|this|the\s+job)(?:\s+on[\s-]?chain)?|record\s+(?:it\s+)?on[\s-]?chain|"
                     r"on[\s-]?chain\s+record)\b"):
        found["tracked"] = True
    gpu_class = masked.take(r"\b(data\s*cent(?:er|re)|consumer|workstation)[\s-]+(?:grade\s+)?(?:gpus?|cards?)\b")
    if gpu_class:
        word = gpu_class.group(1).replace(" ", "")
        found["gpu_class"] = "datacenter" if word.startswith("data") else word
    return found


_LLM_SIZE = re.compile(
    r"\b(?:llama|mistral|mixtral|qwen|gemma|phi|deepseek|falcon|yi|command[\s-]?r|olmo|llm|model)\b[^.?!]{0,40}?"
    r"\b(\d+(?:\.\d+)?)\s*b\b|\b(\d+(?:\.\d+)?)\s*b(?:illion)?[\s-]*(?:param(?:eter)?s?|model|llm)\b"
)
# GPU memory per tier, cheapest first: (model, GiB per GPU, counts Akash providers commonly offer).
_VRAM_TIERS = (("rtx4090", 24, (1,)), ("l40s", 48, (1,)), ("a100", 80, (1, 2, 4, 8)), ("h200", 141, (8,)))


def llm_gpu_sizing(lowered: str, workload: str | None) -> tuple[str, int, str] | None:
    """GPUs for serving a model whose size the user named ("llama 3 70b"), from its weights' memory.

    Weights take parameters x bytes per parameter (16-bit: 2; 8-bit: 1; 4-bit: 0.5); KV cache and runtime
    need about 20 % more. Ollama serves 4-bit quantized models by default, vLLM 16-bit.
    """
    named = find_model(lowered)
    in_id = re.search(r"(?<![\d.])(\d+(?:\.\d+)?)b(?![a-z])", named[0].split("/")[-1]) if named else None
    match = in_id or _LLM_SIZE.search(lowered)
    if not match:
        return None
    billions = float(next(g for g in match.groups() if g))
    if not 0.1 <= billions <= 2000:
        return None
    if re.search(r"\b(?:4[\s-]?bit|int4|q4\w*|awq|gptq)\b", lowered):
        bytes_per, precision = 0.5, "4-bit"
    elif re.search(r"\b(?:8[\s-]?bit|int8|fp8|q8\w*)\b", lowered):
        bytes_per, precision = 1.0, "8-bit"
    elif workload == "ollama":
        bytes_per, precision = 0.5, "4-bit (Ollama's default)"
    else:
        bytes_per, precision = 2.0, "16-bit"
    need = billions * bytes_per * 1.2
    for model, gib, counts in _VRAM_TIERS:
        for count in counts:
            if gib * count >= need:
                name = f"{count}x {model.upper()}" if count > 1 else model.upper()
                return model, count, (
                    f"A {billions:g}B model at {precision} needs about {need:.0f} GB of GPU memory (weights + 20 %), "
                    f"so I sized it at {name} ({gib * count} GB). Name a GPU to choose another."
                )
    return None


def _find_act_amount(lowered: str) -> float | None:
    match = _ACT_AMOUNT.search(lowered)
    if match is None:
        return None
    value = float((match.group(1) or match.group(2)).replace(",", ""))
    return _int_or_float(value) if value > 0 else None


def _merge_previous(
    previous: dict[str, Any] | None, args: dict[str, Any], port: int | None
) -> tuple[dict, int | None]:
    if previous is None:
        return args, port
    base = previous.get("request_args", previous)
    merged = {k: v for k, v in base.items() if k in REQUEST_FIELDS and v is not None}
    merged.update(args)
    if port is None:
        port = previous.get("port")
    return merged, port


def parse_intent(text: str, *, previous: dict[str, Any] | None = None) -> Intent:
    """Read one chat message.

    Args:
      text: the user's message.
      previous: the request of the previous quote or deploy in this conversation (ComputeRequest fields as
        the user stated them, optionally with "port"), or an ``Intent``-shaped dict with "request_args";
        "deploy it" and "what about in Europe?" build on it.
    """
    original = text or ""
    lowered = _lower(original)
    refusal = refusal_for(original)
    if refusal:
        return Intent("refuse", refusal=refusal)
    if not lowered.strip() or _HELP.match(lowered):
        return Intent("help")

    if _MINT.search(lowered):
        return Intent("mint", act_amount=_find_act_amount(lowered))
    notes: list[str] = []
    if _BLOCK_PRICE.search(lowered) or (
        _NORMALIZE_TRIGGER.search(lowered) and not _STRONG_DEPLOY.search(lowered)
    ):
        price = _find_price(lowered)
        if price and (_BLOCK_PRICE.search(lowered) or not _first(_WORKLOAD_PATTERNS, lowered)):
            return Intent("normalize", price=price)
    job_id = _find_job_id(original)
    if _RECORD.search(lowered) and not (_STRONG_DEPLOY.search(lowered) and _ON_CHAIN_RECORD.search(lowered)):
        return Intent("record", job_id=job_id, note=_find_note(original))
    if _CLOSE.search(lowered):
        return Intent("close", job_id=job_id)
    if _LOGS.search(lowered) and not _STRONG_DEPLOY.search(lowered):
        return Intent("logs", job_id=job_id)
    if _JOBS.search(lowered):
        return Intent("jobs")
    if _STATUS.search(lowered) and not _STRONG_DEPLOY.search(lowered):
        return Intent("status", job_id=job_id)

    args, port = _request_args(original, lowered, notes)
    if previous is not None and _FOLLOW_UP_DEPLOY.search(lowered):
        merged, port = _merge_previous(previous, args, port)
        return Intent("deploy", request_args=merged, port=port, follow_up=True, notes=tuple(notes))
    if _FOLLOW_UP_DEPLOY.search(lowered):
        return Intent("deploy", request_args=args, port=port, notes=(*notes, "nothing quoted yet to deploy"))

    follow_up = previous is not None and bool(_FOLLOW_UP_QUOTE.search(lowered))
    if _STRONG_DEPLOY.search(lowered) or (_WEAK_DEPLOY.search(lowered) and not _QUOTE.search(lowered)):
        action: Action = "deploy"
    elif follow_up or _QUOTE.search(lowered) or set(args) - {"region", "objective", "hours"}:
        action = "quote"
    else:
        return Intent("help", notes=("not a request Necto understands",))
    if follow_up:
        args, port = _merge_previous(previous, args, port)
    alternatives: tuple[dict[str, Any], ...] = ()
    models = _gpu_models_mentioned(lowered)
    if action == "quote" and len(models) > 1 and _COMPARE.search(lowered):
        alternatives = tuple(
            {**args, "gpu_model": model, **({"gpu_count": count} if count else {})} for model, count in models[:3]
        )
    sizing = next((n for n in notes if n.startswith("A ") and "GB of GPU memory" in n), None)
    named_model = find_model(original)
    return Intent(action, request_args=args, port=port, follow_up=follow_up, notes=tuple(notes),
                  alternatives=alternatives, sizing=sizing, model=named_model[0] if named_model else None)


_COMPARE = re.compile(r"\b(?:vs\.?|versus|or|compared?(?:\s+(?:to|with))?|against|and)\b")


def _gpu_models_mentioned(lowered: str) -> list[tuple[str, int | None]]:
    """Every GPU model named, in the order written, each once, with the count written before it ("2x")."""
    found: list[tuple[int, int, str, int | None]] = []
    for model, pattern in _GPU_PATTERNS:
        for match in re.finditer(rf"(?<![\w.])(?:(\d+)\s*(?:x|\*)?\s*)?(?:nvidia\s+)?{pattern}(?:s\b|\b)", lowered):
            found.append((match.start(), match.end(), model, int(match.group(1)) if match.group(1) else None))
    # "l40s" also matches the l40 pattern: at each place keep the longest match only.
    kept: list[tuple[int, int, str, int | None]] = []
    for start, end, model, count in sorted(found, key=lambda f: (f[0], -f[1])):
        if any(start < k_end and end > k_start for k_start, k_end, _, _ in kept):
            continue
        kept.append((start, end, model, count))
    seen: dict[str, int | None] = {}
    for _, _, model, count in sorted(kept):
        seen.setdefault(model, count)
    return list(seen.items())
