// usersync, the redirect chain: submits the ticket form (a POST, so the ticket is never in a URL).
document.getElementById('usersync-post').submit();
