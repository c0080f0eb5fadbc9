from text_utils import slugify


def test_slugify():
    assert slugify("Hello, World!") == "hello-world"
    assert slugify("  Agents   cost  MONEY ") == "agents-cost-money"
