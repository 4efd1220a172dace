-- The head's hash follows the last appended record inside the INSERT itself, so an
-- append is two statements, not three (bench/login: each is a hand-off to SQLite's thread).
CREATE TRIGGER audit_log_moves_head AFTER INSERT ON audit_log
BEGIN
    UPDATE audit_head SET hash = NEW.hash WHERE id = 1;
END;
