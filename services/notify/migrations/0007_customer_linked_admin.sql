-- notify: when a user links a customer (accounts' CustomerLinked), each
-- admin of that customer is told who now has access, as the kind
-- customer_linked_admin (the user themselves still gets customer_linked).
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check CHECK (kind IN (
    'order_proposed', 'delivery_scheduled', 'delivery_confirmed', 'invoice_issued', 'order_held',
    'password_reset_requested', 'activation_requested', 'password_changed', 'totp_disabled',
    'new_device_signed_in', 'customer_linked', 'collaborator_added', 'collaborator_invited',
    'collaborator_removed', 'email_change_confirm', 'email_change_requested', 'email_changed',
    'invitation_received', 'customer_linked_admin'));
