<?php

declare(strict_types=1);

namespace Usersync;

/**
 * One site and its peers (configuration format: docs/protocol.md §13). Builds the sealed
 * messages for a user event, opens what peers send with every check of the protocol, and mints
 * and opens login tickets. Create one per process and keep it.
 */
final class Context
{
    private Library $lib;
    private \FFI\CData $handle;

    /**
     * @param array|string $config the configuration, as an array or JSON text
     * @throws ConfigException whose message names the faulty field
     */
    public function __construct(array|string $config)
    {
        $this->lib = Library::get();
        $json = is_array($config) ? json_encode($config, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES) : $config;
        $ffi = $this->lib->ffi;
        $this->handle = $this->lib->construct(
            'usersync_context',
            static fn($out, $err, $cap, $len) => $ffi->usersync_context_new($json, strlen($json), $out, $err, $cap, $len),
        );
    }

    /**
     * The configured peers, without secrets: `[['id', 'url', 'origin', 'send' => [actions],
     * 'accept' => [actions], 'login' => bool], …]` ('login': single sign-on signs browsers in there).
     */
    public function peers(): array
    {
        $ffi = $this->lib->ffi;
        return $this->lib->allocatedJson(fn($out, $len) => $ffi->usersync_context_peers($this->handle, $out, $len));
    }

    /**
     * The ids of the peers an event goes to, without sealing anything (what an outbox routes).
     * @throws MessageRefused for an event that must not leave (e.g. a plaintext password)
     */
    public function route(array $event): array
    {
        $json = json_encode($event, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
        $ffi = $this->lib->ffi;
        return $this->lib->allocatedJson(
            fn($out, $len) => $ffi->usersync_context_route($this->handle, $json, strlen($json), $out, $len),
        );
    }

    /**
     * The sealed messages for one event, `['eid' => …, 'act' => …, 'data' => […]]` (eid: the
     * event's id, Secret::uid(), kept for every retry), one per peer whose send policy takes it
     * (or only for $peer): a list of `['peer' => id, 'url' => …, 'message' => …]`.
     * @throws MessageRefused for an event that must not leave (e.g. a plaintext password)
     */
    public function build(array $event, ?string $peer = null): array
    {
        $json = json_encode($event, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
        $ffi = $this->lib->ffi;
        return $this->lib->allocatedJson(
            fn($out, $len) => $ffi->usersync_context_build($this->handle, $json, strlen($json), $peer, $peer === null ? 0 : strlen($peer), $out, $len),
        );
    }

    /**
     * Opens a message from a peer; $remoteIp is the request's source address. Returns
     * `['iss', 'jti', 'exp', 'act', 'data', 'dropped'?]`: record (iss, jti) until exp in the
     * transaction that applies the action, and treat a second use as a duplicate.
     * @throws EnvelopeException|MessageRefused with the reason code
     */
    public function openAction(string $text, ?string $remoteIp): array
    {
        $ffi = $this->lib->ffi;
        return $this->lib->allocatedJson(
            fn($out, $len) => $ffi->usersync_context_open_action($this->handle, $text, strlen($text), $remoteIp, $remoteIp === null ? 0 : strlen($remoteIp), $out, $len),
        );
    }

    /**
     * A login ticket for a peer: `['peer', 'uid', 'login', 'remember' => bool, 'bnd', 'sid'?,
     * 'return'?]` in (bnd: the binding hash the peer gave the browser), `['peer', 'url',
     * 'message']` out.
     */
    public function mintTicket(array $request): array
    {
        $json = json_encode($request, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
        $ffi = $this->lib->ffi;
        return $this->lib->allocatedJson(
            fn($out, $len) => $ffi->usersync_context_mint_ticket($this->handle, $json, strlen($json), $out, $len),
        );
    }

    /** Opens a login ticket carried by a browser; the result is shaped like openAction()'s. */
    public function openTicket(string $text): array
    {
        $ffi = $this->lib->ffi;
        return $this->lib->allocatedJson(
            fn($out, $len) => $ffi->usersync_context_open_ticket($this->handle, $text, strlen($text), $out, $len),
        );
    }

    /**
     * The target check (docs/protocol.md §15) for an opened action or ticket, with the facts the
     * host read in the transaction that applies it: `['account' => null | ['uid', 'roles',
     * 'super_admin'?, 'sessions'?], 'login_taken'?, 'email_taken'?, 'binding'?]`. Returns the
     * verdict, `['do' => 'create'|'apply'|'skip', 'end_sessions'?]`, to apply exactly.
     * @throws MessageRefused protected_account, identity_conflict, unknown_account, wrong_browser, data_invalid
     * @throws ConfigException unknown_peer (the opened message names no configured peer)
     */
    public function checkTarget(array $opened, array $facts): array
    {
        $flags = JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE;
        $o = json_encode($opened, $flags);
        // An empty PHP array is a JSON list; facts are an object.
        $f = json_encode((object) $facts, $flags);
        $ffi = $this->lib->ffi;
        return $this->lib->allocatedJson(
            fn($out, $len) => $ffi->usersync_context_check_target($this->handle, $o, strlen($o), $f, strlen($f), $out, $len),
        );
    }

    /**
     * A destination for a browser, normalised, when it is on this site or a configured peer
     * (the rule of return URLs, docs/protocol.md §12).
     * @throws MessageRefused return_url_refused for anything else
     */
    public function checkReturn(string $url): string
    {
        $ffi = $this->lib->ffi;
        return $this->lib->allocated(
            fn($out, $len) => $ffi->usersync_context_check_return($this->handle, $url, strlen($url), $out, $len),
        );
    }

    /**
     * The address a request really came from: $remote (REMOTE_ADDR), unless it is a configured
     * trusted proxy — then the rightmost X-Forwarded-For address no trusted proxy added.
     */
    public function clientIp(string $remote, ?string $forwardedFor): string
    {
        $ffi = $this->lib->ffi;
        $xff = $forwardedFor ?? '';
        return $this->lib->allocated(
            fn($out, $len) => $ffi->usersync_context_client_ip($this->handle, $remote, strlen($remote), $xff, strlen($xff), $out, $len),
        );
    }

    /**
     * A sealed `ping` for a peer (docs/protocol.md §16): `['peer', 'url', 'message', 'jti']`, the
     * message POSTed like an action; keep the whole array for checkPong().
     */
    public function ping(string $peer): array
    {
        $ffi = $this->lib->ffi;
        return $this->lib->allocatedJson(fn($out, $len) => $ffi->usersync_context_ping($this->handle, $peer, strlen($peer), $out, $len));
    }

    /** The sealed `pong` answering a ping this site opened (openAction()'s result): `['peer', 'url', 'message']`. */
    public function pong(array $opened): array
    {
        $json = json_encode($opened, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
        $ffi = $this->lib->ffi;
        return $this->lib->allocatedJson(fn($out, $len) => $ffi->usersync_context_pong($this->handle, $json, strlen($json), $out, $len));
    }

    /**
     * The initial sync (docs/protocol.md §18), sender's side: a probe asking $peer about up to
     * 1000 local accounts — each the user record of a create (`login`, `email`, `fields`?,
     * `roles`?, `meta`? as an object, `pass_hash`?) plus `uid` when linked and `super_admin`?.
     * Returns `['peer', 'url', 'message' (null when none may be offered), 'jti', 'local' =>
     * [['do' => 'ask'] | ['do' => 'not_sent', 'reason' => …], …]]`.
     * @throws MessageRefused action_not_sent when this site sends the peer no creates
     */
    public function syncProbe(string $peer, array $accounts): array
    {
        return $this->syncRequest('usersync_context_sync_probe', $peer, $accounts);
    }

    /**
     * A batch carrying out the report for $peer: accounts as for syncProbe(), each with the
     * `uid` it is linked by and `op` ('create' or 'link'). Shaped like syncProbe()'s.
     * @throws EnvelopeException too_large when the batch does not fit a message (send fewer)
     */
    public function syncBatch(string $peer, array $accounts): array
    {
        return $this->syncRequest('usersync_context_sync_batch', $peer, $accounts);
    }

    private function syncRequest(string $function, string $peer, array $accounts): array
    {
        $json = json_encode(array_values($accounts), JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
        $ffi = $this->lib->ffi;
        return $this->lib->allocatedJson(
            fn($out, $len) => $ffi->$function($this->handle, $peer, strlen($peer), $json, strlen($json), $out, $len),
        );
    }

    /**
     * Receiver's side: for an opened probe or batch (openAction()'s result, unchanged) and the
     * facts about each asked account (`['accounts' => [['linked' => …, 'by_login' => …,
     * 'by_email' => …], …]]`, each null or `['id', 'uid'?, 'roles', 'super_admin'?]`), the
     * outcome of each and the sealed answer: `['peer', 'url', 'message', 'results' => [['do',
     * 'reason'?, 'uid'?], …]]`.
     * @throws MessageRefused data_invalid for facts of another shape or count
     */
    public function syncAnswer(array $opened, array $facts): array
    {
        $flags = JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE;
        // A batch the policy emptied on opening has data {}: PHP decoded it to [], an object again here.
        if (isset($opened['data']) && [] === $opened['data']) {
            $opened['data'] = new \stdClass();
        }
        $o = json_encode($opened, $flags);
        $f = json_encode((object) $facts, $flags);
        $ffi = $this->lib->ffi;
        return $this->lib->allocatedJson(
            fn($out, $len) => $ffi->usersync_context_sync_answer($this->handle, $o, strlen($o), $f, strlen($f), $out, $len),
        );
    }

    /**
     * Opens the pong a peer answered to $ping (ping()'s result) like any action from that peer,
     * $remoteIp being the answering server's address (its ip_allow applies), and reports the
     * link: `['peer', 'time' (the peer's clock), 'local_time', 'version', 'not_accepted' (actions
     * sent there that it refuses), 'not_sent' (actions accepted here that it never sends)]`.
     * @throws EnvelopeException|MessageRefused with the reason code (wrong_site: another peer's
     *         pong; data_invalid: another ping's pong, or no pong; expired/not_yet_valid: clocks)
     */
    public function checkPong(array $ping, string $answer, ?string $remoteIp): array
    {
        $json = json_encode($ping, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
        $ffi = $this->lib->ffi;
        return $this->lib->allocatedJson(
            fn($out, $len) => $ffi->usersync_context_check_pong($this->handle, $json, strlen($json), $answer, strlen($answer), $remoteIp, $remoteIp === null ? 0 : strlen($remoteIp), $out, $len),
        );
    }

    public function __destruct()
    {
        $this->lib->ffi->usersync_context_free($this->handle);
    }

    public function __clone()
    {
        throw new \LogicException('a Context cannot be cloned');
    }
}
