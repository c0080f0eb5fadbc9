"""Dollars: pure cost formulas, read-time pricing, break-even, roofline and cost-flag checks."""
