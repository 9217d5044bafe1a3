-- notify: accounts' PhoneVerificationRequested, the code that proves a new
-- phone number, is sent by SMS only to that number as the kind
-- phone_verification (its body purged once sent, like a link's). Every kind
-- of 0008 plus that one.
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check CHECK (kind IN (
    'order_proposed', 'delivery_scheduled', 'delivery_confirmed', 'invoice_issued', 'order_held',
    'password_reset_requested', 'activation_requested', 'password_changed', 'totp_disabled',
    'new_device_signed_in', 'customer_linked', 'collaborator_added', 'collaborator_invited',
    'collaborator_removed', 'email_change_confirm', 'email_change_requested', 'email_changed',
    'invitation_received', 'customer_linked_admin', 'urgent_delivery_ordered',
    'phone_verification'));
