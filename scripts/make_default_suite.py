"""Writes prompts/default.toml. The haystacks of the long-context tasks are generated (seeded), so the
suite is reproducible; edit the tasks here, run `python scripts/make_default_suite.py`, commit both."""

import json
import random
from pathlib import Path


def q(s):  # TOML basic string
    return json.dumps(s, ensure_ascii=False)


def inline(v):
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {inline(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list):
        return "[" + ", ".join(inline(x) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    return q(v)


def ml(s):  # TOML multi-line literal string
    assert "'''" not in s
    return "'''\n" + s + "'''"


rng = random.Random(7)
cities = [
    "Lisbon",
    "Oslo",
    "Quito",
    "Nairobi",
    "Hanoi",
    "Perth",
    "Lima",
    "Tunis",
    "Riga",
    "Dakar",
    "Sofia",
    "Porto",
    "Accra",
    "Cusco",
    "Split",
    "Bergen",
    "Malmo",
    "Turin",
    "Ghent",
    "Basel",
]
items = [
    "copper wire",
    "olive oil",
    "bicycle tyres",
    "wool blankets",
    "glass jars",
    "tea leaves",
    "solar panels",
    "paper notebooks",
    "steel bolts",
    "rubber boots",
    "cotton shirts",
    "clay pots",
]


def haystack(n, needle_at, needle):
    lines = []
    for i in range(1, n + 1):
        if i == needle_at:
            lines.append(needle)
        c = rng.choice(cities)
        it = rng.choice(items)
        k = rng.randint(12, 980)
        lines.append(f"Depot {i:03d} in {c} holds {k} crates of {it}.")
    return "\n".join(lines)


long_text = haystack(70, 49, "Note from the manager: the vault access code is 7316.")
mid_text1 = haystack(14, 9, "Note from the manager: the night guard is called Ingrid Holm.")
mid_text2 = haystack(14, 4, "Note from the manager: the delivery truck is painted orange.")

article = (
    "The town council of Westbrook voted on Tuesday to convert the old railway station into a public "
    "library. The building, closed since 1998, will be renovated over two years at a cost of 4 million dollars, "
    "paid mostly by a state heritage grant. Supporters said the library would bring visitors back to the town "
    "centre; opponents worried about parking. The new library is planned to open in the spring of 2028."
)
article2 = (
    "Researchers at a coastal university tested a new kind of sea wall made from recycled concrete blocks "
    "shaped like honeycombs. Over eighteen months, the wall reduced wave erosion behind it by about forty percent "
    "compared with a plain wall, and small fish and crabs settled in its gaps. The team now plans a larger trial "
    "on a public beach next year."
)
article3 = (
    "A bakery chain announced it will stop selling plastic-wrapped bread in all of its 120 shops by March. "
    "Loaves will instead be sold in paper bags, and customers who bring their own bags will get a small discount. "
    "The company says the change will remove about 30 tonnes of plastic waste each year."
)

T = []


def task(id, cat, check, ref, messages=None, prompt=None, max_tokens=48, desc=None):
    T.append(
        dict(
            id=id,
            category=cat,
            check=check,
            reference=ref,
            messages=messages,
            prompt=prompt,
            max_tokens=max_tokens,
            description=desc,
        )
    )


U = lambda s: [{"role": "user", "content": s}]
SYS = {"role": "system", "content": "You are a concise assistant. Answer briefly."}

# factual QA
task(
    "capital-france",
    "factual",
    {"type": "contains", "values": ["Paris"]},
    "The capital of France is Paris.",
    [SYS, *U("What is the capital of France? Answer with the city name.")],
    max_tokens=24,
)
task(
    "largest-planet",
    "factual",
    {"type": "contains", "values": ["Jupiter"]},
    "Jupiter",
    [SYS, *U("Which planet is the largest in our solar system?")],
    max_tokens=24,
)
task(
    "water-formula",
    "factual",
    {"type": "regex", "pattern": r"\bH\s*2\s*O\b|H₂O", "ignore_case": False},
    "H2O",
    [SYS, *U("What is the chemical formula of water?")],
    max_tokens=24,
)
task(
    "days-in-week",
    "factual",
    {"type": "number", "value": 7},
    "There are 7 days in a week.",
    [SYS, *U("How many days are there in a week? Answer with a number.")],
    max_tokens=16,
)

# format following
task(
    "yes-no",
    "format",
    {"type": "exact", "value": "yes"},
    "yes",
    [SYS, *U("Is the sun a star? Reply with exactly one word: yes or no.")],
    max_tokens=8,
)
task(
    "three-colors-csv",
    "format",
    {
        "type": "regex",
        "pattern": r"^\s*[A-Za-z]+\s*,\s*[A-Za-z]+\s*,\s*[A-Za-z]+\s*\.?\s*$",
        "fullmatch": True,
    },
    "red, green, blue",
    [SYS, *U("List three colours as a single comma-separated line, nothing else.")],
    max_tokens=24,
)
task(
    "uppercase-word",
    "format",
    {"type": "exact", "value": "HELLO", "case_sensitive": True},
    "HELLO",
    [SYS, *U("Write the word hello in capital letters. Output only that word.")],
    max_tokens=8,
)

# extraction to JSON
person_schema = {
    "type": "object",
    "required": ["name", "age", "city"],
    "properties": {
        "name": {"type": "string", "pattern": "[Mm]aria"},
        "age": {"type": "integer", "const": 34},
        "city": {"type": "string", "pattern": "[Mm]adrid"},
    },
}
task(
    "extract-person",
    "extraction",
    {"type": "json", "schema": person_schema},
    '{"name": "Maria Lopez", "age": 34, "city": "Madrid"}',
    [
        SYS,
        *U(
            'Extract the person as JSON with keys "name", "age" (a number) and "city".\n'
            "Text: Maria Lopez, aged 34, moved to Madrid last year.\nJSON:"
        ),
    ],
    max_tokens=48,
)
order_schema = {
    "type": "object",
    "required": ["item", "quantity"],
    "properties": {
        "item": {"type": "string", "pattern": "[Aa]pple"},
        "quantity": {"type": "integer", "const": 12},
    },
}
task(
    "extract-order",
    "extraction",
    {"type": "json", "schema": order_schema},
    '{"item": "apples", "quantity": 12}',
    [SYS, *U('Return JSON with keys "item" and "quantity" for this order: "Please send 12 apples."')],
    max_tokens=40,
)
list_schema = {"type": "array", "minItems": 3, "maxItems": 3, "items": {"type": "string"}}
task(
    "extract-fruits-array",
    "extraction",
    {"type": "json", "schema": list_schema},
    '["banana", "cherry", "mango"]',
    [SYS, *U("Return a JSON array of the fruits mentioned: I bought a banana, a cherry and a mango.")],
    max_tokens=32,
)

# summarization
task(
    "summarize-library",
    "summarization",
    {"type": "contains", "values": ["library"]},
    "Westbrook will turn its old railway station into a library, opening in 2028.",
    [SYS, *U("Summarize in one sentence:\n\n" + article)],
    max_tokens=48,
)
task(
    "summarize-seawall",
    "summarization",
    {"type": "contains", "values": ["wall", "erosion"], "mode": "any"},
    "A honeycomb sea wall of recycled concrete cut erosion by about 40% and hosted marine life.",
    [SYS, *U("Summarize in one sentence:\n\n" + article2)],
    max_tokens=48,
)
task(
    "summarize-bakery",
    "summarization",
    {"type": "contains", "values": ["plastic", "paper"], "mode": "any"},
    "The bakery chain will replace plastic bread wrapping with paper bags by March.",
    [SYS, *U("Summarize in one sentence:\n\n" + article3)],
    max_tokens=48,
)

# arithmetic / reasoning
task(
    "add-small",
    "reasoning",
    {"type": "number", "value": 12},
    "12",
    [SYS, *U("What is 5 + 7? Answer with the number only.")],
    max_tokens=12,
)
task(
    "multiply",
    "reasoning",
    {"type": "number", "value": 56},
    "56",
    [SYS, *U("What is 8 times 7? Answer with the number only.")],
    max_tokens=12,
)
task(
    "apples-left",
    "reasoning",
    {"type": "number", "value": 6},
    "6",
    [SYS, *U("Tom has 10 apples and gives away 4. How many apples does he have left? Answer with a number.")],
    max_tokens=24,
)

# code
task(
    "code-add",
    "code",
    {"type": "python-test", "asserts": "assert add(2, 3) == 5\nassert add(-1, 1) == 0\n", "timeout_s": 5},
    "def add(a, b):\n    return a + b\n",
    [SYS, *U("Write a Python function add(a, b) that returns the sum of a and b. Only code.")],
    max_tokens=48,
)
task(
    "code-reverse",
    "code",
    {
        "type": "python-test",
        "asserts": "assert reverse_string('abc') == 'cba'\nassert reverse_string('') == ''\n",
        "timeout_s": 5,
    },
    "def reverse_string(s):\n    return s[::-1]\n",
    [SYS, *U("Write a Python function reverse_string(s) that returns s reversed. Only code.")],
    max_tokens=48,
)
task(
    "code-is-even",
    "code",
    {
        "type": "python-test",
        "asserts": "assert is_even(4) is True\nassert is_even(7) is False\n",
        "timeout_s": 5,
    },
    "def is_even(n):\n    return n % 2 == 0\n",
    [SYS, *U("Write a Python function is_even(n) that returns True if n is even, else False. Only code.")],
    max_tokens=48,
)

# multi-turn chat
task(
    "chat-remember-name",
    "chat",
    {"type": "contains", "values": ["Alice"]},
    "Your name is Alice.",
    [
        SYS,
        {"role": "user", "content": "Hi, my name is Alice."},
        {"role": "assistant", "content": "Hello Alice! How can I help you today?"},
        {"role": "user", "content": "What is my name?"},
    ],
    max_tokens=24,
)
task(
    "chat-remember-number",
    "chat",
    {"type": "number", "value": 42, "pick": "any"},
    "Your favourite number is 42.",
    [
        SYS,
        {"role": "user", "content": "Remember this: my favourite number is 42."},
        {"role": "assistant", "content": "Got it, your favourite number is 42."},
        {"role": "user", "content": "Which number did I ask you to remember?"},
    ],
    max_tokens=24,
)
task(
    "chat-follow-up-color",
    "chat",
    {"type": "contains", "values": ["green"]},
    "Green.",
    [
        SYS,
        {"role": "user", "content": "What colour do you get by mixing blue and yellow?"},
        {"role": "assistant", "content": "Mixing blue and yellow gives green."},
        {"role": "user", "content": "Say that colour again, in one word."},
    ],
    max_tokens=12,
)

# long-context retrieval
task(
    "needle-vault-code",
    "long-context",
    {"type": "number", "value": 7316, "pick": "any"},
    "The vault access code is 7316.",
    [
        SYS,
        *U(
            "Read the depot log and answer the question.\n\n"
            + long_text
            + "\n\nQuestion: What is the vault access code mentioned in the manager's note?"
        ),
    ],
    max_tokens=24,
    desc="~1,500-token input; the needle sits about 70% of the way in",
)
task(
    "needle-guard-name",
    "long-context",
    {"type": "contains", "values": ["Ingrid"]},
    "Ingrid Holm",
    [
        SYS,
        *U(
            "Read the depot log and answer the question.\n\n"
            + mid_text1
            + "\n\nQuestion: What is the name of the night guard?"
        ),
    ],
    max_tokens=24,
)
task(
    "needle-truck-colour",
    "long-context",
    {"type": "contains", "values": ["orange"]},
    "Orange.",
    [
        SYS,
        *U(
            "Read the depot log and answer the question.\n\n"
            + mid_text2
            + "\n\nQuestion: What colour is the delivery truck?"
        ),
    ],
    max_tokens=24,
)

out = [
    "# The default infercost suite: everyday tasks a small local model might be given, each with a",
    "# reference answer and a check. Categories: factual QA, format following, extraction to JSON,",
    "# summarization, arithmetic/reasoning, code (python-test), multi-turn chat, long-context retrieval.",
    "# Every reference passes its own check (tests/suite/test_default_suite.py proves it).",
    'name = "default"',
    'version = "1.0"',
    'description = "25 everyday tasks over 8 categories, sized to run in about a minute on 2 CPU cores with a 135M model."',
    "",
]
for t in T:
    out.append("[[tasks]]")
    out.append(f"id = {q(t['id'])}")
    out.append(f"category = {q(t['category'])}")
    if t["description"]:
        out.append(f"description = {q(t['description'])}")
    out.append(f"max_tokens = {t['max_tokens']}")
    out.append(f"reference = {q(t['reference'])}")
    out.append("messages = [")
    for m in t["messages"]:
        c = m["content"]
        if "\n" in c and len(c) > 200:
            out.append(f"  {{ role = {q(m['role'])}, content = {ml(c)} }},")
        else:
            out.append(f"  {{ role = {q(m['role'])}, content = {q(c)} }},")
    out.append("]")
    ch = t["check"]
    out.append("[tasks.check]")
    for k, v in ch.items():
        if k == "asserts":
            out.append(f"{k} = {ml(v)}")
        elif k == "schema":
            out.append(f"{k} = {inline(v)}")
        elif isinstance(v, bool):
            out.append(f"{k} = {'true' if v else 'false'}")
        elif isinstance(v, (int, float)):
            out.append(f"{k} = {v}")
        elif isinstance(v, list):
            out.append(f"{k} = [{', '.join(q(x) for x in v)}]")
        else:
            out.append(f"{k} = {'' + (chr(39) + v + chr(39) if chr(39) not in v else q(v))}")
    out.append("")
(Path(__file__).resolve().parent.parent / "prompts" / "default.toml").write_text("\n".join(out))
print(len(T))
