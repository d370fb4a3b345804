<?php

// opcache.preload script for production "preload" mode. With PHP's default ffi.enable=preload,
// only preloaded code may use FFI during web requests, so the binding's classes are preloaded
// here; the library itself is loaded by ffi.preload (see README.md):
//     opcache.enable=1
//     opcache.preload=/path/to/php-bindings/preload.php
//     opcache.preload_user=www-data          (required when php-fpm's master runs as root)
//     ffi.preload=/path/to/usersync-preload.h  (made by bin/usersync-preload-header)
declare(strict_types=1);

require __DIR__ . '/autoload.php';
foreach (glob(__DIR__ . '/src/*.php') as $file) {
    class_exists('Usersync\\' . basename($file, '.php'));   // the autoloader declares parents first
}
