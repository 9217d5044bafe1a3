-- notify: when a user confirms an order with an express speed (orders'
-- DeliveryScheduled with confirmed_by), each admin of the customer and the
-- orderer are told, as the kind urgent_delivery_ordered. Those users may
-- also get the event's delivery_scheduled e-mail: a notification is now
-- unique per (cause event, user, channel, kind), not per (cause event,
-- user, channel), or the second kind of one event would be dropped.
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check CHECK (kind IN (
    'order_proposed', 'delivery_scheduled', 'delivery_confirmed', 'invoice_issued', 'order_held',
    'password_reset_requested', 'activation_requested', 'password_changed', 'totp_disabled',
    'new_device_signed_in', 'customer_linked', 'collaborator_added', 'collaborator_invited',
    'collaborator_removed', 'email_change_confirm', 'email_change_requested', 'email_changed',
    'invitation_received', 'customer_linked_admin', 'urgent_delivery_ordered'));
ALTER TABLE notifications DROP CONSTRAINT notifications_cause_event_id_user_id_channel_key;
ALTER TABLE notifications ADD CONSTRAINT notifications_once_per_user_and_kind
    UNIQUE (cause_event_id, user_id, channel, kind);
