//! FastCGI: serveur as the web-server side of a persistent FastCGI application (php-fpm, a
//! flup program, …).

pub mod record;
