//! `lvsnic replay`: run a configuration against a trace and print one decision per packet.
