// TEMPORARY until the push branch merges (it brings the real `notify_phones`).
use super::{ServiceResult, Services};
use sigillo_core::time::UnixMillis;

impl Services {
    pub(crate) async fn notify_phones(
        &self,
        _conn: &mut sigillo_store::Conn,
        _user_id: &str,
        _op_id: &str,
        _kind: &str,
        _expires_at: i64,
        _now: UnixMillis,
    ) -> ServiceResult<usize> {
        Ok(0)
    }
}
