"""TPC-C: the five transactions of the TPC-C standard specification (revision 5.11, clause 2)
as the SQL statements of BenchBase's TPC-C procedures (github.com/cmu-db/benchbase,
``benchmarks/tpcc/procedures/{NewOrder,Payment,OrderStatus,Delivery,StockLevel}.java``), with
their ``?`` parameters written ``$n``; its DDL (``ddl-postgres.sql``) less the foreign keys
and secondary indexes.

Data: 2 warehouses, populated as clause 4.3.3.1 says (100,000 items, 100,000 stock rows and
10 districts per warehouse, 3,000 customers and 3,000 orders per district with 5-15 lines,
the last 900 orders undelivered in new_order). The skew is the specification's: customers'
last names are three syllables of NURand(255, 0, 999) (the first 1,000 of each district one
each), so that a few names are shared by many customers; 10% bad credit; o_c_id a random
permutation per district.

Weights: the mix of clause 5.2.3 per 100 transactions (new-order 45, payment 43,
order-status, delivery and stock-level 4 each), times each statement's executions per
transaction (10 order lines on average, 10 districts per delivery, 60% of customer lookups by
last name, 10% of payments to bad-credit customers).

Expert: the two secondary indexes BenchBase's DDL builds; every other access is a primary key.
"""

from __future__ import annotations

from bench.public import Benchmark, Expert, Statement

WAREHOUSES = 2

SCHEMA = """
CREATE TABLE warehouse (
    w_id int NOT NULL, w_ytd decimal(12, 2) NOT NULL, w_tax decimal(4, 4) NOT NULL,
    w_name varchar(10) NOT NULL, w_street_1 varchar(20) NOT NULL, w_street_2 varchar(20) NOT NULL,
    w_city varchar(20) NOT NULL, w_state char(2) NOT NULL, w_zip char(9) NOT NULL,
    PRIMARY KEY (w_id)
);
CREATE TABLE item (
    i_id int NOT NULL, i_name varchar(24) NOT NULL, i_price decimal(5, 2) NOT NULL,
    i_data varchar(50) NOT NULL, i_im_id int NOT NULL,
    PRIMARY KEY (i_id)
);
CREATE TABLE stock (
    s_w_id int NOT NULL, s_i_id int NOT NULL, s_quantity int NOT NULL,
    s_ytd decimal(8, 2) NOT NULL, s_order_cnt int NOT NULL, s_remote_cnt int NOT NULL,
    s_data varchar(50) NOT NULL,
    s_dist_01 char(24) NOT NULL, s_dist_02 char(24) NOT NULL, s_dist_03 char(24) NOT NULL,
    s_dist_04 char(24) NOT NULL, s_dist_05 char(24) NOT NULL, s_dist_06 char(24) NOT NULL,
    s_dist_07 char(24) NOT NULL, s_dist_08 char(24) NOT NULL, s_dist_09 char(24) NOT NULL,
    s_dist_10 char(24) NOT NULL,
    PRIMARY KEY (s_w_id, s_i_id)
);
CREATE TABLE district (
    d_w_id int NOT NULL, d_id int NOT NULL, d_ytd decimal(12, 2) NOT NULL,
    d_tax decimal(4, 4) NOT NULL, d_next_o_id int NOT NULL, d_name varchar(10) NOT NULL,
    d_street_1 varchar(20) NOT NULL, d_street_2 varchar(20) NOT NULL,
    d_city varchar(20) NOT NULL, d_state char(2) NOT NULL, d_zip char(9) NOT NULL,
    PRIMARY KEY (d_w_id, d_id)
);
CREATE TABLE customer (
    c_w_id int NOT NULL, c_d_id int NOT NULL, c_id int NOT NULL,
    c_discount decimal(4, 4) NOT NULL, c_credit char(2) NOT NULL, c_last varchar(16) NOT NULL,
    c_first varchar(16) NOT NULL, c_credit_lim decimal(12, 2) NOT NULL,
    c_balance decimal(12, 2) NOT NULL, c_ytd_payment float NOT NULL,
    c_payment_cnt int NOT NULL, c_delivery_cnt int NOT NULL,
    c_street_1 varchar(20) NOT NULL, c_street_2 varchar(20) NOT NULL,
    c_city varchar(20) NOT NULL, c_state char(2) NOT NULL, c_zip char(9) NOT NULL,
    c_phone char(16) NOT NULL, c_since timestamp NOT NULL, c_middle char(2) NOT NULL,
    c_data varchar(500) NOT NULL,
    PRIMARY KEY (c_w_id, c_d_id, c_id)
);
CREATE TABLE history (
    h_c_id int NOT NULL, h_c_d_id int NOT NULL, h_c_w_id int NOT NULL,
    h_d_id int NOT NULL, h_w_id int NOT NULL, h_date timestamp NOT NULL,
    h_amount decimal(6, 2) NOT NULL, h_data varchar(24) NOT NULL
);
CREATE TABLE oorder (
    o_w_id int NOT NULL, o_d_id int NOT NULL, o_id int NOT NULL, o_c_id int NOT NULL,
    o_carrier_id int, o_ol_cnt int NOT NULL, o_all_local int NOT NULL,
    o_entry_d timestamp NOT NULL,
    PRIMARY KEY (o_w_id, o_d_id, o_id)
);
CREATE TABLE new_order (
    no_w_id int NOT NULL, no_d_id int NOT NULL, no_o_id int NOT NULL,
    PRIMARY KEY (no_w_id, no_d_id, no_o_id)
);
CREATE TABLE order_line (
    ol_w_id int NOT NULL, ol_d_id int NOT NULL, ol_o_id int NOT NULL, ol_number int NOT NULL,
    ol_i_id int NOT NULL, ol_delivery_d timestamp, ol_amount decimal(6, 2) NOT NULL,
    ol_supply_w_id int NOT NULL, ol_quantity decimal(6, 2) NOT NULL,
    ol_dist_info char(24) NOT NULL,
    PRIMARY KEY (ol_w_id, ol_d_id, ol_o_id, ol_number)
);
"""

# a random alphanumeric-looking string of n characters, from md5 (clause 4.3.2.2's a-string)
_A = "substr(repeat(md5(random()::text), 16), 1, {n})"
_SYLLABLES = "ARRAY['BAR','OUGHT','ABLE','PRI','PRES','ESE','ANTI','CALLY','ATION','EING']"


def _last(n: str) -> str:
    """c_last of clause 4.3.2.3: the syllables of the three digits of ``n``."""
    return (
        f"({_SYLLABLES})[({n}) / 100 + 1] || ({_SYLLABLES})[({n}) / 10 % 10 + 1]"
        f" || ({_SYLLABLES})[({n}) % 10 + 1]"
    )


_NURAND_255 = "(((floor(random() * 256)::int | floor(random() * 1000)::int) + 157) % 1000)"
_DATA = f"""
SELECT setseed(0.12);
INSERT INTO warehouse
SELECT w, 300000, round((random() * 0.2)::numeric, 4), {_A.format(n=8)}, {_A.format(n=16)},
       {_A.format(n=16)}, {_A.format(n=14)}, 'CA', '123411111'
FROM generate_series(1, {WAREHOUSES}) w;
INSERT INTO item
SELECT i, {_A.format(n="14 + (random() * 10)::int")}, round((1 + random() * 99)::numeric, 2),
       CASE WHEN random() < 0.1 THEN 'ORIGINAL ' ELSE '' END
           || {_A.format(n="26 + (random() * 15)::int")},
       1 + (random() * 9999)::int
FROM generate_series(1, 100000) i;
INSERT INTO stock
SELECT w, i, 10 + (random() * 90)::int, 0, 0, 0,
       CASE WHEN random() < 0.1 THEN 'ORIGINAL ' ELSE '' END
           || {_A.format(n="26 + (random() * 15)::int")},
       {", ".join(_A.format(n=24) for _ in range(10))}
FROM generate_series(1, {WAREHOUSES}) w, generate_series(1, 100000) i;
INSERT INTO district
SELECT w, d, 30000, round((random() * 0.2)::numeric, 4), 3001, {_A.format(n=8)},
       {_A.format(n=16)}, {_A.format(n=16)}, {_A.format(n=14)}, 'CA', '123411111'
FROM generate_series(1, {WAREHOUSES}) w, generate_series(1, 10) d;
INSERT INTO customer
SELECT w, d, c, round((random() * 0.5)::numeric, 4),
       CASE WHEN random() < 0.1 THEN 'BC' ELSE 'GC' END,
       CASE WHEN c <= 1000 THEN {_last("c - 1")} ELSE {_last(_NURAND_255)} END,
       {_A.format(n="8 + (random() * 8)::int")}, 50000, -10, 10, 1, 0,
       {_A.format(n=16)}, {_A.format(n=16)}, {_A.format(n=14)}, 'CA', '123411111',
       lpad((random() * 1e15)::bigint::text, 16, '0'), now(), 'OE',
       {_A.format(n="300 + (random() * 200)::int")}
FROM generate_series(1, {WAREHOUSES}) w, generate_series(1, 10) d, generate_series(1, 3000) c;
INSERT INTO history
SELECT c_id, c_d_id, c_w_id, c_d_id, c_w_id, now(), 10, {_A.format(n=20)} FROM customer;
INSERT INTO oorder
SELECT w, d, o, c, CASE WHEN o < 2101 THEN 1 + (random() * 9)::int END,
       5 + (random() * 10)::int, 1, now()
FROM (SELECT w, d, c, row_number() OVER (PARTITION BY w, d ORDER BY random()) AS o
      FROM generate_series(1, {WAREHOUSES}) w, generate_series(1, 10) d,
           generate_series(1, 3000) c) AS permuted;
INSERT INTO order_line
SELECT o_w_id, o_d_id, o_id, n, 1 + (random() * 99999)::int,
       CASE WHEN o_id < 2101 THEN o_entry_d END,
       CASE WHEN o_id < 2101 THEN 0 ELSE round((0.01 + random() * 9999.98)::numeric, 2) END,
       o_w_id, 5, {_A.format(n=24)}
FROM oorder, generate_series(1, o_ol_cnt) n;
INSERT INTO new_order SELECT o_w_id, o_d_id, o_id FROM oorder WHERE o_id >= 2101;
"""

# one customer lookup (payment and order-status) in 100 transactions: 60% by last name
_LOOKUPS = 43 + 4

STATEMENTS = (
    # New-Order (45): one order of 10 lines on average
    Statement(
        "new-order: customer",
        "SELECT C_DISCOUNT, C_LAST, C_CREDIT FROM customer"
        " WHERE C_W_ID = $1 AND C_D_ID = $2 AND C_ID = $3",
        45,
    ),
    Statement("new-order: warehouse", "SELECT W_TAX FROM warehouse WHERE W_ID = $1", 45),
    Statement(
        "new-order: district",
        "SELECT D_NEXT_O_ID, D_TAX FROM district WHERE D_W_ID = $1 AND D_ID = $2 FOR UPDATE",
        45,
    ),
    Statement(
        "new-order: next order id",
        "UPDATE district SET D_NEXT_O_ID = D_NEXT_O_ID + 1 WHERE D_W_ID = $1 AND D_ID = $2",
        45,
    ),
    Statement(
        "new-order: insert order",
        "INSERT INTO oorder (O_ID, O_D_ID, O_W_ID, O_C_ID, O_ENTRY_D, O_OL_CNT, O_ALL_LOCAL)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        45,
    ),
    Statement(
        "new-order: insert new_order",
        "INSERT INTO new_order (NO_O_ID, NO_D_ID, NO_W_ID) VALUES ($1, $2, $3)",
        45,
    ),
    Statement("new-order: item", "SELECT I_PRICE, I_NAME, I_DATA FROM item WHERE I_ID = $1", 450),
    Statement(
        "new-order: stock",
        "SELECT S_QUANTITY, S_DATA, S_DIST_01, S_DIST_02, S_DIST_03, S_DIST_04, S_DIST_05,"
        " S_DIST_06, S_DIST_07, S_DIST_08, S_DIST_09, S_DIST_10 FROM stock"
        " WHERE S_I_ID = $1 AND S_W_ID = $2 FOR UPDATE",
        450,
    ),
    Statement(
        "new-order: update stock",
        "UPDATE stock SET S_QUANTITY = $1, S_YTD = S_YTD + $2, S_ORDER_CNT = S_ORDER_CNT + 1,"
        " S_REMOTE_CNT = S_REMOTE_CNT + $3 WHERE S_I_ID = $4 AND S_W_ID = $5",
        450,
    ),
    Statement(
        "new-order: insert order line",
        "INSERT INTO order_line (OL_O_ID, OL_D_ID, OL_W_ID, OL_NUMBER, OL_I_ID, OL_SUPPLY_W_ID,"
        " OL_QUANTITY, OL_AMOUNT, OL_DIST_INFO) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        450,
    ),
    # Payment (43)
    Statement(
        "payment: update warehouse", "UPDATE warehouse SET W_YTD = W_YTD + $1 WHERE W_ID = $2", 43
    ),
    Statement(
        "payment: warehouse",
        "SELECT W_STREET_1, W_STREET_2, W_CITY, W_STATE, W_ZIP, W_NAME FROM warehouse"
        " WHERE W_ID = $1",
        43,
    ),
    Statement(
        "payment: update district",
        "UPDATE district SET D_YTD = D_YTD + $1 WHERE D_W_ID = $2 AND D_ID = $3",
        43,
    ),
    Statement(
        "payment: district",
        "SELECT D_STREET_1, D_STREET_2, D_CITY, D_STATE, D_ZIP, D_NAME FROM district"
        " WHERE D_W_ID = $1 AND D_ID = $2",
        43,
    ),
    Statement(
        "payment, order-status: customer by id",
        "SELECT C_FIRST, C_MIDDLE, C_LAST, C_STREET_1, C_STREET_2, C_CITY, C_STATE, C_ZIP,"
        " C_PHONE, C_CREDIT, C_CREDIT_LIM, C_DISCOUNT, C_BALANCE, C_YTD_PAYMENT, C_PAYMENT_CNT,"
        " C_SINCE FROM customer WHERE C_W_ID = $1 AND C_D_ID = $2 AND C_ID = $3",
        _LOOKUPS * 0.4,
    ),
    Statement(
        "payment, order-status: customer by last name",
        "SELECT C_FIRST, C_MIDDLE, C_ID, C_STREET_1, C_STREET_2, C_CITY, C_STATE, C_ZIP,"
        " C_PHONE, C_CREDIT, C_CREDIT_LIM, C_DISCOUNT, C_BALANCE, C_YTD_PAYMENT, C_PAYMENT_CNT,"
        " C_SINCE FROM customer WHERE C_W_ID = $1 AND C_D_ID = $2 AND C_LAST = $3"
        " ORDER BY C_FIRST",
        _LOOKUPS * 0.6,
    ),
    Statement(
        "payment: customer data",
        "SELECT C_DATA FROM customer WHERE C_W_ID = $1 AND C_D_ID = $2 AND C_ID = $3",
        4.3,
    ),
    Statement(
        "payment: update customer (bad credit)",
        "UPDATE customer SET C_BALANCE = $1, C_YTD_PAYMENT = $2, C_PAYMENT_CNT = $3, C_DATA = $4"
        " WHERE C_W_ID = $5 AND C_D_ID = $6 AND C_ID = $7",
        4.3,
    ),
    Statement(
        "payment: update customer",
        "UPDATE customer SET C_BALANCE = $1, C_YTD_PAYMENT = $2, C_PAYMENT_CNT = $3"
        " WHERE C_W_ID = $4 AND C_D_ID = $5 AND C_ID = $6",
        38.7,
    ),
    Statement(
        "payment: insert history",
        "INSERT INTO history (H_C_D_ID, H_C_W_ID, H_C_ID, H_D_ID, H_W_ID, H_DATE, H_AMOUNT,"
        " H_DATA) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        43,
    ),
    # Order-Status (4), its customer lookups counted above
    Statement(
        "order-status: newest order",
        "SELECT O_ID, O_CARRIER_ID, O_ENTRY_D FROM oorder"
        " WHERE O_W_ID = $1 AND O_D_ID = $2 AND O_C_ID = $3 ORDER BY O_ID DESC LIMIT 1",
        4,
    ),
    Statement(
        "order-status: order lines",
        "SELECT OL_I_ID, OL_SUPPLY_W_ID, OL_QUANTITY, OL_AMOUNT, OL_DELIVERY_D FROM order_line"
        " WHERE OL_O_ID = $1 AND OL_D_ID = $2 AND OL_W_ID = $3",
        4,
    ),
    # Delivery (4): each of the 10 districts
    Statement(
        "delivery: oldest new order",
        "SELECT NO_O_ID FROM new_order WHERE NO_D_ID = $1 AND NO_W_ID = $2"
        " ORDER BY NO_O_ID ASC LIMIT 1",
        40,
    ),
    Statement(
        "delivery: delete new order",
        "DELETE FROM new_order WHERE NO_O_ID = $1 AND NO_D_ID = $2 AND NO_W_ID = $3",
        40,
    ),
    Statement(
        "delivery: order's customer",
        "SELECT O_C_ID FROM oorder WHERE O_ID = $1 AND O_D_ID = $2 AND O_W_ID = $3",
        40,
    ),
    Statement(
        "delivery: carrier",
        "UPDATE oorder SET O_CARRIER_ID = $1 WHERE O_ID = $2 AND O_D_ID = $3 AND O_W_ID = $4",
        40,
    ),
    Statement(
        "delivery: delivery date",
        "UPDATE order_line SET OL_DELIVERY_D = $1"
        " WHERE OL_O_ID = $2 AND OL_D_ID = $3 AND OL_W_ID = $4",
        40,
    ),
    Statement(
        "delivery: order amount",
        "SELECT SUM(OL_AMOUNT) AS OL_TOTAL FROM order_line"
        " WHERE OL_O_ID = $1 AND OL_D_ID = $2 AND OL_W_ID = $3",
        40,
    ),
    Statement(
        "delivery: customer balance",
        "UPDATE customer SET C_BALANCE = C_BALANCE + $1, C_DELIVERY_CNT = C_DELIVERY_CNT + 1"
        " WHERE C_W_ID = $2 AND C_D_ID = $3 AND C_ID = $4",
        40,
    ),
    # Stock-Level (4)
    Statement(
        "stock-level: next order id",
        "SELECT D_NEXT_O_ID FROM district WHERE D_W_ID = $1 AND D_ID = $2",
        4,
    ),
    Statement(
        "stock-level: low stock",
        "SELECT COUNT(DISTINCT (S_I_ID)) AS STOCK_COUNT FROM order_line, stock"
        " WHERE OL_W_ID = $1 AND OL_D_ID = $2 AND OL_O_ID < $3 AND OL_O_ID >= $4"
        " AND S_W_ID = $5 AND S_I_ID = OL_I_ID AND S_QUANTITY < $6",
        4,
    ),
)

EXPERT = (
    Expert(
        "CREATE INDEX idx_customer_name ON customer (c_w_id, c_d_id, c_last, c_first)",
        "payment and order-status find 60% of customers by last name in a district, by c_first",
    ),
    Expert(
        "CREATE UNIQUE INDEX idx_order ON oorder (o_w_id, o_d_id, o_c_id, o_id)",
        "order-status reads a customer's newest order: the customer's orders by o_id, backwards",
    ),
)

BENCHMARK = Benchmark(
    name="tpcc",
    source="TPC-C 5.11 clause 2; statements of BenchBase's TPC-C procedures",
    schema=SCHEMA,
    data=tuple(s for s in _DATA.split(";\n") if s.strip()),
    statements=STATEMENTS,
    expert=EXPERT,
)
