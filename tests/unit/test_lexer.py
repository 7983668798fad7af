import pytest

from dbctl.access.lexer import fingerprint_text, split_statements, to_dollar_params

pytestmark = pytest.mark.unit


def test_split_statements_with_lines_comments_and_quotes() -> None:
    sql = (
        "-- a header; with a semicolon\n"
        "SELECT 1;\n"
        "\n"
        "SELECT ';' AS semi, \"a;b\" FROM t; /* block; */\n"
        "SELECT $$ body; $$\n"
        "  FROM u;\n"
        "-- only a comment;\n"
    )
    assert list(split_statements(sql)) == [
        ("-- a header; with a semicolon\nSELECT 1", 2),
        ("SELECT ';' AS semi, \"a;b\" FROM t", 4),
        ("/* block; */\nSELECT $$ body; $$\n  FROM u", 5),
    ]


@pytest.mark.parametrize(
    ("sql", "expected", "count"),
    [
        ("SELECT * FROM t WHERE a = %s AND b = %s", "SELECT * FROM t WHERE a = $1 AND b = $2", 2),
        ("WHERE a = %(x)s OR b = %(x)s AND c = %(y)s", "WHERE a = $1 OR b = $1 AND c = $2", 2),
        ("WHERE a = :x AND b::int = :y", "WHERE a = $1 AND b::int = $2", 2),
        ("WHERE a = $1 AND b = $2", "WHERE a = $1 AND b = $2", 2),
        (
            "WHERE s LIKE 'a%s' AND t = '%(x)s' AND u LIKE 'x%%'",
            "WHERE s LIKE 'a%s' AND t = '%(x)s' AND u LIKE 'x%%'",
            0,
        ),
        ("WHERE x LIKE %s || '%%'", "WHERE x LIKE $1 || '%%'", 1),
        ("SELECT 50 %% 3", "SELECT 50 % 3", 0),
    ],
)
def test_to_dollar_params(sql: str, expected: str, count: int) -> None:
    assert to_dollar_params(sql) == (expected, count)


def test_fingerprint_ignores_values_lists_case_and_space() -> None:
    a = "SELECT * FROM t WHERE id IN (1, 2, 3) AND name = 'x'  -- one"
    b = "select *\n from t where id in ($1,$2) and name = %s"
    c = "SELECT * FROM t WHERE id IN (1) AND nom = 'x'"
    assert fingerprint_text(a) == fingerprint_text(b)
    assert fingerprint_text(a) != fingerprint_text(c)
    assert fingerprint_text("SELECT t1.a FROM t1") != fingerprint_text("SELECT t2.a FROM t2")


def test_fingerprint_folds_sqlalchemy_in_lists_of_cast_parameters() -> None:
    two = "SELECT * FROM t WHERE id IN (%(id_1_1)s::INTEGER, %(id_1_2)s::INTEGER)"
    three = "SELECT * FROM t WHERE id IN ($1::INTEGER, $2::INTEGER, $3::INTEGER)"
    other = "SELECT * FROM t WHERE id IN ($1::BIGINT, $2::BIGINT)"
    assert fingerprint_text(two) == fingerprint_text(three)
    assert fingerprint_text(two) != fingerprint_text(other)


def test_one_set_of_lexical_rules_for_both_scans() -> None:
    """segments (splitting, fingerprints) and tokens (the models' column references) share
    the nested comments and the dollar tags (non-ASCII letters allowed, as in PostgreSQL)."""
    from dbctl.access.lexer import comment_end, segments, tokens

    sql = "SELECT $ü$ a; b $ü$ /* x /* y */ z */ , c"
    kinds = [kind for kind, _ in segments(sql)]
    assert kinds == ["code", "string", "code", "comment", "code"]
    assert [t.text for t in tokens(sql)] == ["SELECT", "$ü$ a; b $ü$", ",", "c"]
    assert comment_end("/* a /* b */", 0) == -1
    assert list(s for s, _ in split_statements(sql)) == [sql]
