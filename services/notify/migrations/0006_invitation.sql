-- notify: accounts' CollaboratorInvited (an admin invited an existing
-- account, which must sign in and accept) is told to that person as the kind
-- invitation_received.
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check CHECK (kind IN (
    'order_proposed', 'delivery_scheduled', 'delivery_confirmed', 'invoice_issued', 'order_held',
    'password_reset_requested', 'activation_requested', 'password_changed', 'totp_disabled',
    'new_device_signed_in', 'customer_linked', 'collaborator_added', 'collaborator_invited',
    'collaborator_removed', 'email_change_confirm', 'email_change_requested', 'email_changed',
    'invitation_received'));
