-- The head's hash follows the last appended record inside the INSERT itself, so an
-- append is two statements, not three (bench/login: each is a round trip).
CREATE FUNCTION audit_log_move_head() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE audit_head SET hash = NEW.hash WHERE id = 1;
    RETURN NULL;
END $$;
CREATE TRIGGER audit_log_moves_head AFTER INSERT ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_move_head();
