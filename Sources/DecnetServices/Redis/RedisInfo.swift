import Foundation

/// The `INFO` text of a stock Redis of the persona's version, section by section. nmap's `redis` probe reads
/// `# Server\r\nredis_version:` from it.
enum RedisInfo {
    static func render(configuration: RedisService.Configuration, keyspace: RedisKeyspace) -> [(String, String)] {
        let uptime = max(0, Int(Date().timeIntervalSince(keyspace.startTime))) + configuration.uptimeOffset
        let keys = keyspace.count
        func lines(_ pairs: [(String, String)]) -> String { pairs.map { "\($0.0):\($0.1)\r\n" }.joined() }
        let server = lines([
            ("redis_version", configuration.version),
            ("redis_git_sha1", "00000000"),
            ("redis_git_dirty", "0"),
            ("redis_build_id", configuration.buildID),
            ("redis_mode", "standalone"),
            ("os", "Linux \(configuration.kernel) x86_64"),
            ("arch_bits", "64"),
            ("monotonic_clock", "POSIX clock_gettime"),
            ("multiplexing_api", "epoll"),
            ("atomicvar_api", "c11-builtin"),
            ("gcc_version", configuration.gccVersion),
            ("process_id", String(configuration.processID)),
            ("process_supervised", "systemd"),
            ("run_id", configuration.runID),
            ("tcp_port", "6379"),
            ("server_time_usec", String(Int(Date().timeIntervalSince1970 * 1_000_000))),
            ("uptime_in_seconds", String(uptime)),
            ("uptime_in_days", String(uptime / 86_400)),
            ("hz", "10"),
            ("configured_hz", "10"),
            ("executable", "/usr/bin/redis-server"),
            ("config_file", "/etc/redis/redis.conf"),
            ("io_threads_active", "0"),
        ])
        let clients = lines([
            ("connected_clients", "1"), ("cluster_connections", "0"), ("maxclients", "10000"),
            ("client_recent_max_input_buffer", "20480"), ("client_recent_max_output_buffer", "0"),
            ("blocked_clients", "0"), ("tracking_clients", "0"), ("clients_in_timeout_table", "0"),
        ])
        let memory = lines([
            ("used_memory", "1096512"), ("used_memory_human", "1.05M"), ("used_memory_rss", "6828032"),
            ("used_memory_rss_human", "6.51M"), ("used_memory_peak", "1157648"), ("maxmemory", "0"),
            ("maxmemory_human", "0B"), ("maxmemory_policy", "noeviction"), ("mem_allocator", "jemalloc-5.3.0"),
        ])
        let persistence = lines([
            ("loading", "0"), ("async_loading", "0"), ("rdb_changes_since_last_save", "0"),
            ("rdb_bgsave_in_progress", "0"),
            ("rdb_last_save_time", String(Int(keyspace.startTime.timeIntervalSince1970))),
            ("rdb_last_bgsave_status", "ok"), ("aof_enabled", "0"), ("aof_rewrite_in_progress", "0"),
        ])
        let stats = lines([
            ("total_connections_received", String(keyspace.nextClientID())), ("total_commands_processed", "1032"),
            ("instantaneous_ops_per_sec", "0"), ("rejected_connections", "0"), ("expired_keys", "0"),
            ("evicted_keys", "0"), ("keyspace_hits", "211"), ("keyspace_misses", "17"),
        ])
        let replication = lines([
            ("role", "master"), ("connected_slaves", "0"), ("master_failover_state", "no-failover"),
            ("master_replid", configuration.replicationID), ("master_repl_offset", "0"),
        ])
        let cpu = lines([
            ("used_cpu_sys", "12.481203"), ("used_cpu_user", "9.220114"), ("used_cpu_sys_children", "0.004211"),
            ("used_cpu_user_children", "0.001847"),
        ])
        let keyspaceSection = keys == 0 ? "" : "db0:keys=\(keys),expires=0,avg_ttl=0\r\n"
        return [
            ("Server", server), ("Clients", clients), ("Memory", memory), ("Persistence", persistence),
            ("Stats", stats), ("Replication", replication), ("CPU", cpu), ("Modules", ""),
            ("Keyspace", keyspaceSection),
        ]
    }
}
