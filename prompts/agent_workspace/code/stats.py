"""Small statistics helpers."""


def mean(values):
    return sum(values) / len(values)


def median(values):
    """The middle value of the sorted values (mean of the two middle ones for an even count)."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2 == 0:
        return ordered[mid]
    return ordered[mid]
