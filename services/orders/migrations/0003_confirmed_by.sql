-- Who confirmed an on-demand order (the session's user id), so that the
-- DeliveryScheduled of a confirmation, and of a held order released later
-- by its site's certificate, names them (notify tells the customer's admins
-- of an urgent delivery). NULL for automatic orders and orders not yet
-- confirmed.
ALTER TABLE orders ADD COLUMN confirmed_by uuid;
