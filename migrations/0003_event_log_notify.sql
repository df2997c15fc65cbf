-- Wake projection workers when events are appended. Sent once per appending statement, inside its
-- transaction, so listeners hear it only after commit. A notification is a hint, never data.

CREATE FUNCTION events_notify_appended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('musrenbang_events', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER events_appended
    AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_notify_appended();
