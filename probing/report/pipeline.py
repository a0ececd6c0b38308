"""Tasks in the order of the classical NLP pipeline (Tenney et al. 2019): tables and figures
list them so, not alphabetically; tasks outside it follow, by name."""

PIPELINE = ("upos", "xpos", "deps", "consts", "entities", "relations")


def task_rank(task: str) -> tuple[int, str]:
    return (PIPELINE.index(task), "") if task in PIPELINE else (len(PIPELINE), task)


def in_pipeline_order(tasks: list[str]) -> list[str]:
    return sorted(dict.fromkeys(tasks), key=task_rank)
