CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT NOT NULL);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id),
                     amount_eur REAL NOT NULL, day TEXT NOT NULL);
INSERT INTO customers VALUES (1, 'Alice Moreau', 'Paris'), (2, 'Bruno Keller', 'Lyon'),
  (3, 'Chloe Martin', 'Paris'), (4, 'Dario Rossi', 'Marseille'), (5, 'Emma Weber', 'Lyon'),
  (6, 'Farid Haddad', 'Lille');
INSERT INTO orders VALUES
  (101, 1, 120.00, '2026-02-11'), (102, 2, 75.50, '2026-03-02'), (103, 1, 33.25, '2026-03-15'),
  (104, 3, 210.00, '2026-03-20'), (105, 4, 18.90, '2026-01-08'), (106, 5, 99.99, '2026-03-28'),
  (107, 2, 44.00, '2026-04-01'), (108, 6, 310.40, '2026-02-27'), (109, 5, 12.00, '2026-03-05'),
  (110, 3, 64.75, '2026-04-12'), (111, 1, 8.00, '2026-04-30'), (112, 4, 150.00, '2026-03-09');
