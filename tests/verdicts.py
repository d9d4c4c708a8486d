"""The one way the grading tests check a result: its verdict, the words of its message, and a score to match."""


def assert_graded(r, verdict: str, words: str) -> None:
    assert r.verdict == verdict, (r.message, [(c.name, c.output[:300]) for c in r.checks if not c.passed])
    assert words in r.message, r.message
    if verdict == "pass":
        assert r.score == r.max_score > 0
    else:
        assert r.score < r.max_score
