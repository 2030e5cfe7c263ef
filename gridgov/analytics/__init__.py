"""Dashboard figures and the GB/T 30428 evaluations (综合评价). Pure: counts in, rates and scores out."""
