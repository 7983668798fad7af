"""TPC-H: the 22 queries of the TPC-H standard specification (revision 3.0.1, clause 2.4)
with the validation substitution parameters of each query's clause 2.4.N.3 (Q11's fraction
scaled as the specification says, 0.0001 / SF), on its schema (clause 1.4, dbgen's
``dss.ddl``) with the primary keys of clause 1.4.2.2 only. Q15's view is written as a
common table expression, as PostgreSQL ports of the kit usually do.

Data: scale factor 0.1 (1,000 suppliers, 20,000 parts, 80,000 partsupp, 15,000 customers,
150,000 orders, about 600,000 lineitems), generated in SQL the way dbgen does (clause 4.2.3):
sparse order keys (8 of each 32), only two customers in three with orders, order dates
uniform over 1992-01-01..1998-08-02, 1-7 lines an order, the part-supplier mapping of
clause 4.2.3 (each part with 4 suppliers), ship/commit/receipt dates off the order date,
return flags and line statuses from the 1995-06-17 cut, part names of 5 of dbgen's 92
colours, a few suppliers with "Customer ... Complaints". The distributions are uniform, as
the specification's are; the skew of this bench is TPC-C's.

Expert: the index set of Tomas Vondra's pg-tpch kit (``dss/tpch-index.sql``, the set most
PostgreSQL TPC-H reports use): the foreign-key and date indexes, less those the primary keys
already lead with (partsupp(ps_partkey), lineitem(l_orderkey)) and nation(n_regionkey) on
25 rows.
"""

from __future__ import annotations

from bench.public import Benchmark, Expert, Statement

SCALE = 0.1
SUPPLIERS = int(SCALE * 10_000)
PARTS = int(SCALE * 200_000)
CUSTOMERS = int(SCALE * 150_000)
ORDERS = int(SCALE * 1_500_000)

SCHEMA = """
CREATE TABLE region (
    r_regionkey int NOT NULL, r_name char(25) NOT NULL, r_comment varchar(152),
    PRIMARY KEY (r_regionkey)
);
CREATE TABLE nation (
    n_nationkey int NOT NULL, n_name char(25) NOT NULL, n_regionkey int NOT NULL,
    n_comment varchar(152),
    PRIMARY KEY (n_nationkey)
);
CREATE TABLE part (
    p_partkey int NOT NULL, p_name varchar(55) NOT NULL, p_mfgr char(25) NOT NULL,
    p_brand char(10) NOT NULL, p_type varchar(25) NOT NULL, p_size int NOT NULL,
    p_container char(10) NOT NULL, p_retailprice decimal(15, 2) NOT NULL,
    p_comment varchar(23) NOT NULL,
    PRIMARY KEY (p_partkey)
);
CREATE TABLE supplier (
    s_suppkey int NOT NULL, s_name char(25) NOT NULL, s_address varchar(40) NOT NULL,
    s_nationkey int NOT NULL, s_phone char(15) NOT NULL, s_acctbal decimal(15, 2) NOT NULL,
    s_comment varchar(101) NOT NULL,
    PRIMARY KEY (s_suppkey)
);
CREATE TABLE partsupp (
    ps_partkey int NOT NULL, ps_suppkey int NOT NULL, ps_availqty int NOT NULL,
    ps_supplycost decimal(15, 2) NOT NULL, ps_comment varchar(199) NOT NULL,
    PRIMARY KEY (ps_partkey, ps_suppkey)
);
CREATE TABLE customer (
    c_custkey int NOT NULL, c_name varchar(25) NOT NULL, c_address varchar(40) NOT NULL,
    c_nationkey int NOT NULL, c_phone char(15) NOT NULL, c_acctbal decimal(15, 2) NOT NULL,
    c_mktsegment char(10) NOT NULL, c_comment varchar(117) NOT NULL,
    PRIMARY KEY (c_custkey)
);
CREATE TABLE orders (
    o_orderkey int NOT NULL, o_custkey int NOT NULL, o_orderstatus char(1) NOT NULL,
    o_totalprice decimal(15, 2) NOT NULL, o_orderdate date NOT NULL,
    o_orderpriority char(15) NOT NULL, o_clerk char(15) NOT NULL, o_shippriority int NOT NULL,
    o_comment varchar(79) NOT NULL,
    PRIMARY KEY (o_orderkey)
);
CREATE TABLE lineitem (
    l_orderkey int NOT NULL, l_partkey int NOT NULL, l_suppkey int NOT NULL,
    l_linenumber int NOT NULL, l_quantity decimal(15, 2) NOT NULL,
    l_extendedprice decimal(15, 2) NOT NULL, l_discount decimal(15, 2) NOT NULL,
    l_tax decimal(15, 2) NOT NULL, l_returnflag char(1) NOT NULL, l_linestatus char(1) NOT NULL,
    l_shipdate date NOT NULL, l_commitdate date NOT NULL, l_receiptdate date NOT NULL,
    l_shipinstruct char(25) NOT NULL, l_shipmode char(10) NOT NULL, l_comment varchar(44) NOT NULL,
    PRIMARY KEY (l_orderkey, l_linenumber)
);
"""

_COLOURS = [
    "almond",
    "antique",
    "aquamarine",
    "azure",
    "beige",
    "bisque",
    "black",
    "blanched",
    "blue",
    "blush",
    "brown",
    "burlywood",
    "burnished",
    "chartreuse",
    "chiffon",
    "chocolate",
    "coral",
    "cornflower",
    "cornsilk",
    "cream",
    "cyan",
    "dark",
    "deep",
    "dim",
    "dodger",
    "drab",
    "firebrick",
    "floral",
    "forest",
    "frosted",
    "gainsboro",
    "ghost",
    "goldenrod",
    "green",
    "grey",
    "honeydew",
    "hot",
    "indian",
    "ivory",
    "khaki",
    "lace",
    "lavender",
    "lawn",
    "lemon",
    "light",
    "lime",
    "linen",
    "magenta",
    "maroon",
    "medium",
    "metallic",
    "midnight",
    "mint",
    "misty",
    "moccasin",
    "navajo",
    "navy",
    "olive",
    "orange",
    "orchid",
    "pale",
    "papaya",
    "peach",
    "peru",
    "pink",
    "plum",
    "powder",
    "puff",
    "purple",
    "red",
    "rose",
    "rosy",
    "royal",
    "saddle",
    "salmon",
    "sandy",
    "seashell",
    "sienna",
    "sky",
    "slate",
    "smoke",
    "snow",
    "spring",
    "steel",
    "tan",
    "thistle",
    "tomato",
    "turquoise",
    "violet",
    "wheat",
    "white",
    "yellow",
]
_NATIONS = [
    "ALGERIA 0",
    "ARGENTINA 1",
    "BRAZIL 1",
    "CANADA 1",
    "EGYPT 4",
    "ETHIOPIA 0",
    "FRANCE 3",
    "GERMANY 3",
    "INDIA 2",
    "INDONESIA 2",
    "IRAN 4",
    "IRAQ 4",
    "JAPAN 2",
    "JORDAN 4",
    "KENYA 0",
    "MOROCCO 0",
    "MOZAMBIQUE 0",
    "PERU 1",
    "CHINA 2",
    "ROMANIA 3",
    "SAUDI ARABIA 4",
    "VIETNAM 2",
    "RUSSIA 3",
    "UNITED KINGDOM 3",
    "UNITED STATES 1",
]


def _array(words: list[str] | tuple[str, ...]) -> str:
    return "ARRAY[" + ",".join(f"'{w}'" for w in words) + "]"


def _pick(words: list[str] | tuple[str, ...]) -> str:
    """One of ``words`` uniformly, drawn per row."""
    return f"({_array(words)})[1 + floor(random() * {len(words)})::int]"


def _text(low: int, high: int) -> str:
    """A comment of ``low``-``high`` characters (dbgen's text grammar is words; its length is
    what the planner sees)."""
    length = f"{low} + floor(random() * {high - low + 1})::int"
    return f"substr(repeat(md5(random()::text) || ' ', 8), 1, {length})"


def _phone(nation: str) -> str:
    return (
        f"({nation} + 10)::text || '-' || (100 + floor(random() * 900))::text || '-'"
        " || (100 + floor(random() * 900))::text || '-' || (1000 + floor(random() * 9000))::text"
    )


def _suppkey(part: str, i: str) -> str:
    """Clause 4.2.3: the i-th (0-3) supplier of a part."""
    return f"({part} + ({i} * ({SUPPLIERS // 4} + ({part} - 1) / {SUPPLIERS}))) % {SUPPLIERS} + 1"


_RETAILPRICE = "(90000 + ((p / 10) % 20001) + 100 * (p % 1000)) / 100.0"

_DATA = f"""
SELECT setseed(0.34);
INSERT INTO region VALUES (0, 'AFRICA', 'a'), (1, 'AMERICA', 'b'), (2, 'ASIA', 'c'),
    (3, 'EUROPE', 'd'), (4, 'MIDDLE EAST', 'e');
INSERT INTO nation VALUES {
    ", ".join(
        f"({k}, '{n.rsplit(' ', 1)[0]}', {n.rsplit(' ', 1)[1]}, 'n')"
        for k, n in enumerate(_NATIONS)
    )
};
INSERT INTO part
SELECT p, {" || ' ' || ".join([_pick(_COLOURS)] * 5)},
       'Manufacturer#' || m, 'Brand#' || m || (1 + floor(random() * 5))::int,
       {_pick(["STANDARD", "SMALL", "MEDIUM", "LARGE", "ECONOMY", "PROMO"])} || ' '
           || {_pick(["ANODIZED", "BURNISHED", "PLATED", "POLISHED", "BRUSHED"])} || ' '
           || {_pick(["TIN", "NICKEL", "BRASS", "STEEL", "COPPER"])},
       1 + floor(random() * 50)::int,
       {_pick(["SM", "LG", "MED", "JUMBO", "WRAP"])} || ' '
           || {_pick(["CASE", "BOX", "BAG", "JAR", "PKG", "PACK", "CAN", "DRUM"])},
       {_RETAILPRICE}, {_text(5, 22)}
FROM (SELECT p, 1 + floor(random() * 5)::int AS m FROM generate_series(1, {PARTS}) p) AS g;
INSERT INTO supplier
SELECT s, 'Supplier#' || lpad(s::text, 9, '0'), {_text(10, 40)}, n, {_phone("n")},
       round((-999.99 + random() * 10999.98)::numeric, 2),
       CASE WHEN s % 200 = 7 THEN 'wake Customer carefully Complaints ' || {_text(10, 50)}
            WHEN s % 200 = 107 THEN 'final Customer slyly Recommends ' || {_text(10, 50)}
            ELSE {_text(25, 100)} END
FROM (SELECT s, floor(random() * 25)::int AS n FROM generate_series(1, {SUPPLIERS}) s) AS g;
INSERT INTO partsupp
SELECT p, {_suppkey("p", "i")}, 1 + floor(random() * 9999)::int,
       round((1 + random() * 999)::numeric, 2), {_text(49, 198)}
FROM generate_series(1, {PARTS}) p, generate_series(0, 3) i;
INSERT INTO customer
SELECT c, 'Customer#' || lpad(c::text, 9, '0'), {_text(10, 40)}, n, {_phone("n")},
       round((-999.99 + random() * 10999.98)::numeric, 2),
       {_pick(["AUTOMOBILE", "BUILDING", "FURNITURE", "MACHINERY", "HOUSEHOLD"])},
       {_text(29, 116)}
FROM (SELECT c, floor(random() * 25)::int AS n FROM generate_series(1, {CUSTOMERS}) c) AS g;
INSERT INTO orders
SELECT (i - 1) / 8 * 32 + (i - 1) % 8 + 1, k / 2 * 3 + k % 2 + 1, 'O', 0,
       date '1992-01-01' + floor(random() * 2405)::int,
       {_pick(["1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECIFIED", "5-LOW"])},
       'Clerk#' || lpad((1 + floor(random() * {int(SCALE * 1000)}))::int::text, 9, '0'), 0,
       CASE WHEN random() < 0.01 THEN 'ironic special foxes requests ' || {_text(5, 40)}
            ELSE {_text(19, 78)} END
FROM (SELECT i, floor(random() * {CUSTOMERS * 2 // 3})::int AS k
      FROM generate_series(1, {ORDERS}) i) AS g;
INSERT INTO lineitem
SELECT o, p, {_suppkey("p", "i")}, ln, q, q * {_RETAILPRICE}, disc, tax,
       CASE WHEN ship + late <= date '1995-06-17'
            THEN CASE WHEN random() < 0.5 THEN 'R' ELSE 'A' END ELSE 'N' END,
       CASE WHEN ship > date '1995-06-17' THEN 'O' ELSE 'F' END,
       ship, committed, ship + late,
       {_pick(["DELIVER IN PERSON", "COLLECT COD", "NONE", "TAKE BACK RETURN"])},
       {_pick(["REG AIR", "AIR", "RAIL", "SHIP", "TRUCK", "MAIL", "FOB"])}, {_text(10, 43)}
FROM (
    SELECT o_orderkey AS o, ln, 1 + floor(random() * {PARTS})::int AS p,
           floor(random() * 4)::int AS i, 1 + floor(random() * 50)::int AS q,
           round(floor(random() * 11)::numeric / 100, 2) AS disc,
           round(floor(random() * 9)::numeric / 100, 2) AS tax,
           o_orderdate + 1 + floor(random() * 121)::int AS ship,
           o_orderdate + 30 + floor(random() * 61)::int AS committed,
           1 + floor(random() * 30)::int AS late
    FROM orders CROSS JOIN LATERAL generate_series(1, 1 + abs(hashint4(o_orderkey)) % 7) ln
) AS g;
UPDATE orders SET o_totalprice = t.total, o_orderstatus = t.status
FROM (SELECT l_orderkey, round(sum(l_extendedprice * (1 + l_tax) * (1 - l_discount)), 2) AS total,
             CASE WHEN bool_and(l_linestatus = 'F') THEN 'F'
                  WHEN bool_and(l_linestatus = 'O') THEN 'O' ELSE 'P' END AS status
      FROM lineitem GROUP BY l_orderkey) AS t
WHERE o_orderkey = t.l_orderkey;
VACUUM FULL orders;
"""

_QUERIES = {
    1: """
select l_returnflag, l_linestatus, sum(l_quantity) as sum_qty,
    sum(l_extendedprice) as sum_base_price,
    sum(l_extendedprice * (1 - l_discount)) as sum_disc_price,
    sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) as sum_charge,
    avg(l_quantity) as avg_qty, avg(l_extendedprice) as avg_price, avg(l_discount) as avg_disc,
    count(*) as count_order
from lineitem
where l_shipdate <= date '1998-12-01' - interval '90' day
group by l_returnflag, l_linestatus
order by l_returnflag, l_linestatus""",
    2: """
select s_acctbal, s_name, n_name, p_partkey, p_mfgr, s_address, s_phone, s_comment
from part, supplier, partsupp, nation, region
where p_partkey = ps_partkey and s_suppkey = ps_suppkey and p_size = 15
    and p_type like '%BRASS' and s_nationkey = n_nationkey and n_regionkey = r_regionkey
    and r_name = 'EUROPE'
    and ps_supplycost = (
        select min(ps_supplycost) from partsupp, supplier, nation, region
        where p_partkey = ps_partkey and s_suppkey = ps_suppkey and s_nationkey = n_nationkey
            and n_regionkey = r_regionkey and r_name = 'EUROPE')
order by s_acctbal desc, n_name, s_name, p_partkey
limit 100""",
    3: """
select l_orderkey, sum(l_extendedprice * (1 - l_discount)) as revenue, o_orderdate,
    o_shippriority
from customer, orders, lineitem
where c_mktsegment = 'BUILDING' and c_custkey = o_custkey and l_orderkey = o_orderkey
    and o_orderdate < date '1995-03-15' and l_shipdate > date '1995-03-15'
group by l_orderkey, o_orderdate, o_shippriority
order by revenue desc, o_orderdate
limit 10""",
    4: """
select o_orderpriority, count(*) as order_count
from orders
where o_orderdate >= date '1993-07-01' and o_orderdate < date '1993-07-01' + interval '3' month
    and exists (
        select * from lineitem where l_orderkey = o_orderkey and l_commitdate < l_receiptdate)
group by o_orderpriority
order by o_orderpriority""",
    5: """
select n_name, sum(l_extendedprice * (1 - l_discount)) as revenue
from customer, orders, lineitem, supplier, nation, region
where c_custkey = o_custkey and l_orderkey = o_orderkey and l_suppkey = s_suppkey
    and c_nationkey = s_nationkey and s_nationkey = n_nationkey and n_regionkey = r_regionkey
    and r_name = 'ASIA' and o_orderdate >= date '1994-01-01'
    and o_orderdate < date '1994-01-01' + interval '1' year
group by n_name
order by revenue desc""",
    6: """
select sum(l_extendedprice * l_discount) as revenue
from lineitem
where l_shipdate >= date '1994-01-01' and l_shipdate < date '1994-01-01' + interval '1' year
    and l_discount between 0.06 - 0.01 and 0.06 + 0.01 and l_quantity < 24""",
    7: """
select supp_nation, cust_nation, l_year, sum(volume) as revenue
from (
    select n1.n_name as supp_nation, n2.n_name as cust_nation,
        extract(year from l_shipdate) as l_year,
        l_extendedprice * (1 - l_discount) as volume
    from supplier, lineitem, orders, customer, nation n1, nation n2
    where s_suppkey = l_suppkey and o_orderkey = l_orderkey and c_custkey = o_custkey
        and s_nationkey = n1.n_nationkey and c_nationkey = n2.n_nationkey
        and ((n1.n_name = 'FRANCE' and n2.n_name = 'GERMANY')
            or (n1.n_name = 'GERMANY' and n2.n_name = 'FRANCE'))
        and l_shipdate between date '1995-01-01' and date '1996-12-31'
) as shipping
group by supp_nation, cust_nation, l_year
order by supp_nation, cust_nation, l_year""",
    8: """
select o_year, sum(case when nation = 'BRAZIL' then volume else 0 end) / sum(volume) as mkt_share
from (
    select extract(year from o_orderdate) as o_year,
        l_extendedprice * (1 - l_discount) as volume, n2.n_name as nation
    from part, supplier, lineitem, orders, customer, nation n1, nation n2, region
    where p_partkey = l_partkey and s_suppkey = l_suppkey and l_orderkey = o_orderkey
        and o_custkey = c_custkey and c_nationkey = n1.n_nationkey
        and n1.n_regionkey = r_regionkey and r_name = 'AMERICA'
        and s_nationkey = n2.n_nationkey
        and o_orderdate between date '1995-01-01' and date '1996-12-31'
        and p_type = 'ECONOMY ANODIZED STEEL'
) as all_nations
group by o_year
order by o_year""",
    9: """
select nation, o_year, sum(amount) as sum_profit
from (
    select n_name as nation, extract(year from o_orderdate) as o_year,
        l_extendedprice * (1 - l_discount) - ps_supplycost * l_quantity as amount
    from part, supplier, lineitem, partsupp, orders, nation
    where s_suppkey = l_suppkey and ps_suppkey = l_suppkey and ps_partkey = l_partkey
        and p_partkey = l_partkey and o_orderkey = l_orderkey and s_nationkey = n_nationkey
        and p_name like '%green%'
) as profit
group by nation, o_year
order by nation, o_year desc""",
    10: """
select c_custkey, c_name, sum(l_extendedprice * (1 - l_discount)) as revenue, c_acctbal,
    n_name, c_address, c_phone, c_comment
from customer, orders, lineitem, nation
where c_custkey = o_custkey and l_orderkey = o_orderkey and o_orderdate >= date '1993-10-01'
    and o_orderdate < date '1993-10-01' + interval '3' month and l_returnflag = 'R'
    and c_nationkey = n_nationkey
group by c_custkey, c_name, c_acctbal, c_phone, n_name, c_address, c_comment
order by revenue desc
limit 20""",
    11: f"""
select ps_partkey, sum(ps_supplycost * ps_availqty) as value
from partsupp, supplier, nation
where ps_suppkey = s_suppkey and s_nationkey = n_nationkey and n_name = 'GERMANY'
group by ps_partkey
having sum(ps_supplycost * ps_availqty) > (
    select sum(ps_supplycost * ps_availqty) * {0.0001 / SCALE:.4f}
    from partsupp, supplier, nation
    where ps_suppkey = s_suppkey and s_nationkey = n_nationkey and n_name = 'GERMANY')
order by value desc""",
    12: """
select l_shipmode,
    sum(case when o_orderpriority = '1-URGENT' or o_orderpriority = '2-HIGH' then 1 else 0 end)
        as high_line_count,
    sum(case when o_orderpriority <> '1-URGENT' and o_orderpriority <> '2-HIGH' then 1 else 0 end)
        as low_line_count
from orders, lineitem
where o_orderkey = l_orderkey and l_shipmode in ('MAIL', 'SHIP')
    and l_commitdate < l_receiptdate and l_shipdate < l_commitdate
    and l_receiptdate >= date '1994-01-01'
    and l_receiptdate < date '1994-01-01' + interval '1' year
group by l_shipmode
order by l_shipmode""",
    13: """
select c_count, count(*) as custdist
from (
    select c_custkey, count(o_orderkey)
    from customer left outer join orders
        on c_custkey = o_custkey and o_comment not like '%special%requests%'
    group by c_custkey
) as c_orders (c_custkey, c_count)
group by c_count
order by custdist desc, c_count desc""",
    14: """
select 100.00 * sum(case when p_type like 'PROMO%' then l_extendedprice * (1 - l_discount)
    else 0 end) / sum(l_extendedprice * (1 - l_discount)) as promo_revenue
from lineitem, part
where l_partkey = p_partkey and l_shipdate >= date '1995-09-01'
    and l_shipdate < date '1995-09-01' + interval '1' month""",
    15: """
with revenue0 (supplier_no, total_revenue) as (
    select l_suppkey, sum(l_extendedprice * (1 - l_discount))
    from lineitem
    where l_shipdate >= date '1996-01-01' and l_shipdate < date '1996-01-01' + interval '3' month
    group by l_suppkey)
select s_suppkey, s_name, s_address, s_phone, total_revenue
from supplier, revenue0
where s_suppkey = supplier_no and total_revenue = (select max(total_revenue) from revenue0)
order by s_suppkey""",
    16: """
select p_brand, p_type, p_size, count(distinct ps_suppkey) as supplier_cnt
from partsupp, part
where p_partkey = ps_partkey and p_brand <> 'Brand#45' and p_type not like 'MEDIUM POLISHED%'
    and p_size in (49, 14, 23, 45, 19, 3, 36, 9)
    and ps_suppkey not in (
        select s_suppkey from supplier where s_comment like '%Customer%Complaints%')
group by p_brand, p_type, p_size
order by supplier_cnt desc, p_brand, p_type, p_size""",
    17: """
select sum(l_extendedprice) / 7.0 as avg_yearly
from lineitem, part
where p_partkey = l_partkey and p_brand = 'Brand#23' and p_container = 'MED BOX'
    and l_quantity < (select 0.2 * avg(l_quantity) from lineitem where l_partkey = p_partkey)""",
    18: """
select c_name, c_custkey, o_orderkey, o_orderdate, o_totalprice, sum(l_quantity)
from customer, orders, lineitem
where o_orderkey in (
        select l_orderkey from lineitem group by l_orderkey having sum(l_quantity) > 300)
    and c_custkey = o_custkey and o_orderkey = l_orderkey
group by c_name, c_custkey, o_orderkey, o_orderdate, o_totalprice
order by o_totalprice desc, o_orderdate
limit 100""",
    19: """
select sum(l_extendedprice * (1 - l_discount)) as revenue
from lineitem, part
where (p_partkey = l_partkey and p_brand = 'Brand#12'
        and p_container in ('SM CASE', 'SM BOX', 'SM PACK', 'SM PKG')
        and l_quantity >= 1 and l_quantity <= 1 + 10 and p_size between 1 and 5
        and l_shipmode in ('AIR', 'AIR REG') and l_shipinstruct = 'DELIVER IN PERSON')
    or (p_partkey = l_partkey and p_brand = 'Brand#23'
        and p_container in ('MED BAG', 'MED BOX', 'MED PKG', 'MED PACK')
        and l_quantity >= 10 and l_quantity <= 10 + 10 and p_size between 1 and 10
        and l_shipmode in ('AIR', 'AIR REG') and l_shipinstruct = 'DELIVER IN PERSON')
    or (p_partkey = l_partkey and p_brand = 'Brand#34'
        and p_container in ('LG CASE', 'LG BOX', 'LG PACK', 'LG PKG')
        and l_quantity >= 20 and l_quantity <= 20 + 10 and p_size between 1 and 15
        and l_shipmode in ('AIR', 'AIR REG') and l_shipinstruct = 'DELIVER IN PERSON')""",
    20: """
select s_name, s_address
from supplier, nation
where s_suppkey in (
        select ps_suppkey from partsupp
        where ps_partkey in (select p_partkey from part where p_name like 'forest%')
            and ps_availqty > (
                select 0.5 * sum(l_quantity) from lineitem
                where l_partkey = ps_partkey and l_suppkey = ps_suppkey
                    and l_shipdate >= date '1994-01-01'
                    and l_shipdate < date '1994-01-01' + interval '1' year))
    and s_nationkey = n_nationkey and n_name = 'CANADA'
order by s_name""",
    21: """
select s_name, count(*) as numwait
from supplier, lineitem l1, orders, nation
where s_suppkey = l1.l_suppkey and o_orderkey = l1.l_orderkey and o_orderstatus = 'F'
    and l1.l_receiptdate > l1.l_commitdate
    and exists (
        select * from lineitem l2
        where l2.l_orderkey = l1.l_orderkey and l2.l_suppkey <> l1.l_suppkey)
    and not exists (
        select * from lineitem l3
        where l3.l_orderkey = l1.l_orderkey and l3.l_suppkey <> l1.l_suppkey
            and l3.l_receiptdate > l3.l_commitdate)
    and s_nationkey = n_nationkey and n_name = 'SAUDI ARABIA'
group by s_name
order by numwait desc, s_name
limit 100""",
    22: """
select cntrycode, count(*) as numcust, sum(c_acctbal) as totacctbal
from (
    select substring(c_phone from 1 for 2) as cntrycode, c_acctbal
    from customer
    where substring(c_phone from 1 for 2) in ('13', '31', '23', '29', '30', '18', '17')
        and c_acctbal > (
            select avg(c_acctbal) from customer
            where c_acctbal > 0.00
                and substring(c_phone from 1 for 2) in ('13', '31', '23', '29', '30', '18', '17'))
        and not exists (select * from orders where o_custkey = c_custkey)
) as custsale
group by cntrycode
order by cntrycode""",
}

EXPERT = (
    Expert(
        "CREATE INDEX idx_supplier_nation_key ON supplier (s_nationkey)",
        "foreign key: suppliers of a nation (Q2, Q5, Q7-Q9, Q11, Q20, Q21)",
    ),
    Expert(
        "CREATE INDEX idx_partsupp_suppkey ON partsupp (ps_suppkey)",
        "foreign key: a supplier's parts (Q11, Q16, Q20); ps_partkey leads the primary key",
    ),
    Expert(
        "CREATE INDEX idx_customer_nationkey ON customer (c_nationkey)",
        "foreign key: customers of a nation (Q5, Q7, Q8, Q10)",
    ),
    Expert(
        "CREATE INDEX idx_orders_custkey ON orders (o_custkey)",
        "foreign key: a customer's orders (Q3, Q10, Q13, Q18, Q22's NOT EXISTS)",
    ),
    Expert(
        "CREATE INDEX idx_lineitem_part_supp ON lineitem (l_partkey, l_suppkey)",
        "foreign key to partsupp: Q17's and Q20's correlated subqueries, Q9's and Q14's joins",
    ),
    Expert(
        "CREATE INDEX idx_lineitem_shipdate ON lineitem (l_shipdate, l_discount, l_quantity)",
        "ship-date ranges (Q6 answered from the index's columns, Q14, Q15, Q20)",
    ),
    Expert(
        "CREATE INDEX idx_orders_orderdate ON orders (o_orderdate)",
        "order-date ranges of a quarter or a year (Q4, Q5, Q8, Q10)",
    ),
)

BENCHMARK = Benchmark(
    name="tpch",
    source=f"TPC-H 3.0.1 clause 2.4, validation parameters; SF {SCALE}",
    schema=SCHEMA,
    data=tuple(s for s in _DATA.split(";\n") if s.strip()),
    statements=tuple(Statement(f"Q{n}", sql.strip()) for n, sql in _QUERIES.items()),
    expert=EXPERT,
)
