"""Planner-scored index-advice cases: a rental-shop schema with data, statements, and for
each statement the index sets an expert would weigh (the best of them by planner cost is the
bar). Used by ``bench/advice_quality.py``.

The statements are the access shapes of issue 12 (sort under LIMIT against a range, covering
scans, nullable filters, inlined CTEs, negations, no-op casts, aggregates, unique and small
tables, join paths, correlated subqueries) and the everyday ones (equality + range, sort +
LIMIT, prefix LIKE, trigram, expression, jsonb containment).
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA = """
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE TABLE store (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE country (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE customer (
    id int PRIMARY KEY, store_id int NOT NULL REFERENCES store, country_id int REFERENCES country,
    email text NOT NULL UNIQUE, first_name text NOT NULL, last_name text NOT NULL,
    active boolean NOT NULL, created_at timestamptz NOT NULL
);
CREATE TABLE film (
    id int PRIMARY KEY, title text NOT NULL, rating text NOT NULL, length int NOT NULL,
    release_year int NOT NULL, description text NOT NULL
);
CREATE TABLE rental (
    id int PRIMARY KEY, rental_date timestamptz NOT NULL,
    customer_id int NOT NULL REFERENCES customer, film_id int NOT NULL REFERENCES film,
    return_date timestamptz, staff_id int NOT NULL
);
CREATE TABLE payment (
    id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customer,
    rental_id int REFERENCES rental, amount numeric(5, 2) NOT NULL,
    payment_date timestamptz NOT NULL
);
CREATE TABLE posts (
    id int PRIMARY KEY, author_id int NOT NULL, created_at timestamptz NOT NULL,
    title text NOT NULL, body text NOT NULL, data jsonb NOT NULL, deleted_at timestamptz
);
CREATE TABLE events (
    id bigint PRIMARY KEY, kind text NOT NULL, created_on date NOT NULL, user_id int NOT NULL
);
"""

DATA = """
SELECT setseed(0.42);
INSERT INTO store VALUES (1, 'north'), (2, 'south');
INSERT INTO country SELECT g, 'country ' || g FROM generate_series(1, 100) g;
UPDATE country SET name = 'France' WHERE id = 33;
INSERT INTO customer
SELECT g, 1 + g % 2, 1 + g % 100, 'user' || g || '@example.com',
       'first' || (g % 500), (ARRAY['smith','jones','brown','lee','patel'])[1 + g % 5] || g % 3000,
       g % 10 <> 0, now() - (g % 1000) * interval '1 day'
FROM generate_series(1, 50000) g;
INSERT INTO film
SELECT g, upper(md5(g::text)), (ARRAY['G','PG','PG-13','R','NC-17'])[1 + g % 5],
       46 + (random() * 139)::int, 1990 + g % 35, md5((g * 7)::text) || ' ' || md5(g::text)
FROM generate_series(1, 20000) g;
INSERT INTO rental
SELECT g, now() - random() * interval '730 days', 1 + (random() * 49999)::int,
       1 + (random() * 19999)::int,
       CASE WHEN random() < 0.02 THEN NULL ELSE now() - random() * interval '700 days' END,
       1 + g % 20
FROM generate_series(1, 300000) g;
INSERT INTO payment
SELECT g, 1 + (random() * 49999)::int, g, round((random() * 11.99)::numeric, 2),
       timestamptz '2023-01-01' + random() * interval '730 days'
FROM generate_series(1, 300000) g;
INSERT INTO posts
SELECT g, 1 + (random() * 4999)::int, now() - random() * interval '1000 days',
       'title ' || g, repeat('body ', 20),
       jsonb_build_object('tag', 'tag' || (g % 1000), 'n', g),
       CASE WHEN random() < 0.1 THEN now() ELSE NULL END
FROM generate_series(1, 100000) g;
INSERT INTO events
SELECT g,
       (ARRAY['click','view','buy','share','like','open','close','scroll','hover','drag'])
           [1 + g % 10],
       date '2023-01-01' + (random() * 730)::int, 1 + (random() * 9999)::int
FROM generate_series(1, 200000) g;
VACUUM ANALYZE;
"""


@dataclass(frozen=True)
class Case:
    name: str
    statement: str
    # index sets an expert would consider (each a list of CREATE INDEX bodies "t (cols)");
    # the empty set is always one of them: the bar is the cheapest by planner cost
    alternatives: tuple[tuple[str, ...], ...]
    note: str = ""


CASES: tuple[Case, ...] = (
    Case(
        "sort-beats-range-under-limit",
        "SELECT id, title FROM film WHERE rating = 'PG' AND length > 170 ORDER BY title LIMIT 10",
        (("film (rating, title)",), ("film (rating, length)",), ("film (length)",)),
    ),
    Case(
        "covering-semi-join",
        "SELECT * FROM customer WHERE id IN (SELECT customer_id FROM payment WHERE amount > 11.5)",
        (("payment (amount, customer_id)",), ("payment (amount)",)),
    ),
    Case(
        "null-and-range",
        "SELECT * FROM rental WHERE return_date IS NULL "
        "AND rental_date < now() - interval '7 days'",
        (("rental (return_date)",), ("rental (return_date, rental_date)",)),
    ),
    Case(
        "inlined-cte",
        "WITH cte AS (SELECT * FROM posts) SELECT * FROM cte WHERE author_id = 42",
        (("posts (author_id)",),),
    ),
    Case(
        "not-like-prefix",
        "SELECT * FROM customer WHERE email NOT LIKE 'user1%'",
        (("customer (email text_pattern_ops)",),),
        "a negation: no index serves it",
    ),
    Case(
        "not-like-infix",
        "SELECT * FROM film WHERE title NOT LIKE '%AB%'",
        (("film USING gin (title gin_trgm_ops)",),),
        "a negation: no index serves it",
    ),
    Case(
        "no-op-cast",
        "SELECT * FROM events WHERE CAST(created_on AS DATE) = DATE '2024-03-01'",
        (("events (created_on)",),),
    ),
    Case(
        "sort-after-aggregate",
        "SELECT customer_id, sum(amount) FROM payment GROUP BY customer_id "
        "ORDER BY sum(amount) DESC LIMIT 10",
        (("payment (customer_id, amount)",),),
    ),
    Case(
        "unique-equality",
        "SELECT * FROM customer WHERE email = 'user42@example.com'",
        (),
        "the unique constraint's index serves it",
    ),
    Case(
        "small-lookup-table",
        "SELECT * FROM country WHERE name = 'France'",
        (("country (name)",),),
    ),
    Case(
        "join-through-unique",
        "SELECT r.* FROM rental r JOIN customer c ON c.id = r.customer_id "
        "WHERE c.email = 'user42@example.com'",
        (("rental (customer_id)",),),
    ),
    Case(
        "equality-and-range",
        "SELECT * FROM events WHERE kind = 'click' AND created_on > DATE '2024-12-01'",
        (("events (kind, created_on)",), ("events (created_on)",)),
    ),
    Case(
        "sort-limit",
        "SELECT * FROM posts ORDER BY created_at DESC LIMIT 20",
        (("posts (created_at)",),),
    ),
    Case(
        "two-equalities",
        "SELECT * FROM rental WHERE customer_id = 5 AND film_id = 10",
        (("rental (customer_id)",), ("rental (customer_id, film_id)",), ("rental (film_id)",)),
    ),
    Case(
        "prefix-like",
        "SELECT * FROM film WHERE title LIKE 'ACE%'",
        (("film (title text_pattern_ops)",),),
    ),
    Case(
        "infix-ilike",
        "SELECT * FROM film WHERE title ILIKE '%ace1%'",
        (("film USING gin (title gin_trgm_ops)",),),
    ),
    Case(
        "expression-equality",
        "SELECT * FROM customer WHERE lower(last_name) = 'smith42'",
        (("customer (lower(last_name))",),),
    ),
    Case(
        "jsonb-containment",
        'SELECT id FROM posts WHERE data @> \'{"tag": "tag7"}\'',
        (("posts USING gin (data)",), ("posts USING gin (data jsonb_path_ops)",)),
    ),
    Case(
        "soft-delete",
        "SELECT * FROM posts WHERE author_id = 7 AND deleted_at IS NULL",
        (("posts (author_id)",), ("posts (author_id) WHERE deleted_at IS NULL",)),
    ),
    Case(
        "range-group",
        "SELECT customer_id, count(*) FROM payment WHERE payment_date >= '2024-01-01' "
        "AND payment_date < '2024-01-08' GROUP BY customer_id",
        (("payment (payment_date)",), ("payment (payment_date, customer_id)",)),
    ),
    Case(
        "three-table-join",
        "SELECT c.email, f.title FROM rental r JOIN customer c ON c.id = r.customer_id "
        "JOIN film f ON f.id = r.film_id WHERE c.store_id = 1 AND f.rating = 'G' "
        "AND r.rental_date > now() - interval '3 days'",
        (("rental (rental_date)",),),
    ),
    Case(
        "correlated-count",
        "SELECT * FROM customer c WHERE (SELECT count(*) FROM rental r "
        "WHERE r.customer_id = c.id) > 12",
        (("rental (customer_id)",),),
    ),
    Case(
        "fk-equality-sorted",
        "SELECT * FROM payment WHERE customer_id = 7 ORDER BY payment_date DESC LIMIT 5",
        (("payment (customer_id)",), ("payment (customer_id, payment_date)",)),
    ),
    Case(
        "primary-key-update",
        "UPDATE rental SET return_date = now() WHERE id = 5",
        (),
    ),
    Case(
        "parameterised-fk",
        "SELECT * FROM payment WHERE rental_id = $1",
        (("payment (rental_id)",),),
    ),
    Case(
        "in-list",
        "SELECT * FROM rental WHERE film_id IN (1, 2, 3, 4)",
        (("rental (film_id)",),),
    ),
    Case(
        "or-of-equalities",
        "SELECT * FROM events WHERE user_id = 5 OR user_id = 6",
        (("events (user_id)",),),
    ),
    Case(
        "low-selectivity",
        "SELECT * FROM customer WHERE active",
        (("customer (active)",),),
        "90% of the rows: a scan is the right plan",
    ),
)
