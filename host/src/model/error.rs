//! Errors of the model's control plane. Messages follow libipvs `ipvs_strerror()` so that an
//! operator sees what `ipvsadm` would have said.

use super::types::ServiceKey;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("Service already exists ({0})")]
    ServiceExists(ServiceKey),
    #[error("No such service ({0})")]
    NoSuchService(ServiceKey),
    #[error("Destination already exists ({0})")]
    DestExists(std::net::SocketAddr),
    #[error("No such destination ({0})")]
    NoSuchDest(std::net::SocketAddr),
    #[error("Scheduler or persistence engine not found ({0})")]
    SchedulerNotFound(String),
    #[error("Invalid operation: {0}")]
    Invalid(String),
    #[error("Numerical result out of range: {0}")]
    Range(String),
}
