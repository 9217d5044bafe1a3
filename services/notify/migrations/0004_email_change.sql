-- notify: the messages of a change of sign-in e-mail (accounts'
-- EmailChangeRequested and EmailChanged): the confirmation link to the new
-- address (a single-use link: link_expires_at set, its body purged like the
-- others), and the notices to the current or former address.
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check CHECK (kind IN (
    'order_proposed', 'delivery_scheduled', 'delivery_confirmed', 'invoice_issued',
    'password_reset_requested', 'activation_requested', 'password_changed', 'totp_disabled',
    'new_device_signed_in', 'customer_linked', 'collaborator_added', 'collaborator_invited',
    'collaborator_removed', 'email_change_confirm', 'email_change_requested', 'email_changed'));
