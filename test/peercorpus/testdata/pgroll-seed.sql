-- Rows inserted after the pgroll examples the corpus README names
-- (../../../shared/peer-corpus/README.md: after steps 01, 02, 05, 08, 12,
-- 14, 20, 25, 28, 34, 43, 50, 51, 52 and 55), written for strata's test
-- (the corpus names the steps, not the rows). Each part runs on the base
-- tables once that example is complete.

-- after 01
INSERT INTO customers (id, name, credit_card) VALUES (1, 'alice', '4111 1111'), (2, 'bob', NULL);
INSERT INTO bills (id, date, quantity) VALUES (1, '10:00+00', 3), (2, '11:30+02', 5);
INSERT INTO sellers (name, zip, description) VALUES ('alice', 10115, 'first seller'), ('bob', 75001, NULL);

-- after 02
INSERT INTO products (name, price) VALUES ('apple', 1.50), ('pear', 2.25);

-- after 05
INSERT INTO users (id, name) VALUES (1, 'ann'), (2, 'ben');

-- after 08
INSERT INTO fruits (name, price) VALUES ('apple', 1.00), ('banana', 0.50), ('cherry', 4.20);

-- after 12
INSERT INTO employees (role) VALUES ('engineer'), ('manager');

-- after 14
INSERT INTO reviews (username, product, review) VALUES ('ann', 'apple', 'tasty'), ('ben', 'pear', NULL), ('cid', 'plum', 'tasty');

-- after 20
INSERT INTO posts (title, user_id) VALUES ('hello world', 1), ('hi', 99), ('no author', NULL);

-- after 25
INSERT INTO people (id, name) VALUES (1, 'alice'), (2, 'bobby');

-- after 28
INSERT INTO items (name) VALUES ('widget');
INSERT INTO items DEFAULT VALUES;

-- after 34
INSERT INTO events (name) VALUES ('conference'), (NULL), ('ab');

-- after 43
INSERT INTO tickets (sellers_name, sellers_zip) VALUES ('alice', 10115), ('bob', 75001);

-- after 50
INSERT INTO telephone_providers (name, tax_id, headquarters) VALUES ('Telco', 'T-1', 'Berlin'), ('Phoneco', 'T-2', 'Paris');

-- after 51
INSERT INTO phonebook (provider_id, name, city, phone) VALUES (1, 'ann', 'Berlin', '+49 30 1'), (2, 'ben', 'Paris', '+33 1 2');

-- after 52
INSERT INTO library (returned, title, summary) VALUES ('2026-01-05 10:00', 'Dune', 'sand'), ('2026-02-01 09:00', 'Emma', 'a novel');

-- after 55
INSERT INTO tasks (title, description, deadline) VALUES ('write docs', 'the pgroll page', '17:00+00');
