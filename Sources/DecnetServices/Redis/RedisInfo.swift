import Foundation

/// The `INFO` text of a stock Redis of the persona's version, section by section, every field Redis 7.0 prints in
/// its order (Debian 12's 7.0.15, measured in bench/differential). nmap's `redis` probe reads
/// `# Server\r\nredis_version:` from it. Counters and sizes are those of a quiet server that has run a while.
enum RedisInfo {
    static func render(configuration: RedisService.Configuration, keyspace: RedisKeyspace) -> [(String, String)] {
        let uptime = max(0, Int(Date().timeIntervalSince(keyspace.startTime))) + configuration.uptimeOffset
        let started = Int(Date().timeIntervalSince1970) - uptime
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
            // Redis's LRU clock: seconds modulo 2^24.
            ("lru_clock", String(Int(Date().timeIntervalSince1970) & 0xFF_FFFF)),
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
            ("used_memory_rss_human", "6.51M"), ("used_memory_peak", "1157648"), ("used_memory_peak_human", "1.10M"),
            ("used_memory_peak_perc", "94.72%"), ("used_memory_overhead", "876912"), ("used_memory_startup", "876336"),
            ("used_memory_dataset", "219600"), ("used_memory_dataset_perc", "99.74%"),
            ("allocator_allocated", "1683056"), ("allocator_active", "1839104"), ("allocator_resident", "4501504"),
            ("total_system_memory", "4109926400"), ("total_system_memory_human", "3.83G"),
            ("used_memory_lua", "32768"), ("used_memory_vm_eval", "32768"), ("used_memory_lua_human", "32.00K"),
            ("used_memory_scripts_eval", "0"), ("number_of_cached_scripts", "0"), ("number_of_functions", "0"),
            ("number_of_libraries", "0"), ("used_memory_vm_functions", "33792"), ("used_memory_vm_total", "66560"),
            ("used_memory_vm_total_human", "65.00K"), ("used_memory_functions", "200"),
            ("used_memory_scripts", "200"), ("used_memory_scripts_human", "200B"), ("maxmemory", "0"),
            ("maxmemory_human", "0B"), ("maxmemory_policy", "noeviction"), ("allocator_frag_ratio", "1.09"),
            ("allocator_frag_bytes", "156048"), ("allocator_rss_ratio", "2.45"), ("allocator_rss_bytes", "2662400"),
            ("rss_overhead_ratio", "1.52"), ("rss_overhead_bytes", "2326528"), ("mem_fragmentation_ratio", "6.23"),
            ("mem_fragmentation_bytes", "5731520"), ("mem_not_counted_for_evict", "0"),
            ("mem_replication_backlog", "0"), ("mem_total_replication_buffers", "0"), ("mem_clients_slaves", "0"),
            ("mem_clients_normal", "1800"), ("mem_cluster_links", "0"), ("mem_aof_buffer", "0"),
            ("mem_allocator", "jemalloc-5.3.0"), ("active_defrag_running", "0"), ("lazyfree_pending_objects", "0"),
            ("lazyfreed_objects", "0"),
        ])
        let persistence = lines([
            ("loading", "0"), ("async_loading", "0"), ("current_cow_peak", "0"), ("current_cow_size", "0"),
            ("current_cow_size_age", "0"), ("current_fork_perc", "0.00"), ("current_save_keys_processed", "0"),
            ("current_save_keys_total", "0"), ("rdb_changes_since_last_save", "0"), ("rdb_bgsave_in_progress", "0"),
            ("rdb_last_save_time", String(started)), ("rdb_last_bgsave_status", "ok"),
            ("rdb_last_bgsave_time_sec", "-1"), ("rdb_current_bgsave_time_sec", "-1"), ("rdb_saves", "0"),
            ("rdb_last_cow_size", "0"), ("rdb_last_load_keys_expired", "0"), ("rdb_last_load_keys_loaded", "0"),
            ("aof_enabled", "0"), ("aof_rewrite_in_progress", "0"), ("aof_rewrite_scheduled", "0"),
            ("aof_last_rewrite_time_sec", "-1"), ("aof_current_rewrite_time_sec", "-1"),
            ("aof_last_bgrewrite_status", "ok"), ("aof_rewrites", "0"), ("aof_rewrites_consecutive_failures", "0"),
            ("aof_last_write_status", "ok"), ("aof_last_cow_size", "0"), ("module_fork_in_progress", "0"),
            ("module_fork_last_cow_size", "0"),
        ])
        let stats = lines([
            ("total_connections_received", String(keyspace.nextClientID())), ("total_commands_processed", "1032"),
            ("instantaneous_ops_per_sec", "0"), ("total_net_input_bytes", "41287"),
            ("total_net_output_bytes", "1822311"), ("total_net_repl_input_bytes", "0"),
            ("total_net_repl_output_bytes", "0"), ("instantaneous_input_kbps", "0.00"),
            ("instantaneous_output_kbps", "0.00"), ("instantaneous_input_repl_kbps", "0.00"),
            ("instantaneous_output_repl_kbps", "0.00"), ("rejected_connections", "0"), ("sync_full", "0"),
            ("sync_partial_ok", "0"), ("sync_partial_err", "0"), ("expired_keys", "0"), ("expired_stale_perc", "0.00"),
            ("expired_time_cap_reached_count", "0"), ("expire_cycle_cpu_milliseconds", "412"), ("evicted_keys", "0"),
            ("evicted_clients", "0"), ("total_eviction_exceeded_time", "0"), ("current_eviction_exceeded_time", "0"),
            ("keyspace_hits", "211"), ("keyspace_misses", "17"), ("pubsub_channels", "0"), ("pubsub_patterns", "0"),
            ("pubsubshard_channels", "0"), ("latest_fork_usec", "0"), ("total_forks", "0"),
            ("migrate_cached_sockets", "0"), ("slave_expires_tracked_keys", "0"), ("active_defrag_hits", "0"),
            ("active_defrag_misses", "0"), ("active_defrag_key_hits", "0"), ("active_defrag_key_misses", "0"),
            ("total_active_defrag_time", "0"), ("current_active_defrag_time", "0"), ("tracking_total_keys", "0"),
            ("tracking_total_items", "0"), ("tracking_total_prefixes", "0"), ("unexpected_error_replies", "0"),
            ("total_error_replies", "23"), ("dump_payload_sanitizations", "0"), ("total_reads_processed", "2104"),
            ("total_writes_processed", "1071"), ("io_threaded_reads_processed", "0"),
            ("io_threaded_writes_processed", "0"), ("reply_buffer_shrinks", "14"), ("reply_buffer_expands", "3"),
        ])
        let replication = lines([
            ("role", "master"), ("connected_slaves", "0"), ("master_failover_state", "no-failover"),
            ("master_replid", configuration.replicationID),
            ("master_replid2", String(repeating: "0", count: 40)), ("master_repl_offset", "0"),
            ("second_repl_offset", "-1"), ("repl_backlog_active", "0"), ("repl_backlog_size", "1048576"),
            ("repl_backlog_first_byte_offset", "0"), ("repl_backlog_histlen", "0"),
        ])
        let cpu = lines([
            ("used_cpu_sys", "12.481203"), ("used_cpu_user", "9.220114"), ("used_cpu_sys_children", "0.004211"),
            ("used_cpu_user_children", "0.001847"), ("used_cpu_sys_main_thread", "12.430988"),
            ("used_cpu_user_main_thread", "9.198422"),
        ])
        let keyspaceSection = keys == 0 ? "" : "db0:keys=\(keys),expires=0,avg_ttl=0\r\n"
        return [
            ("Server", server), ("Clients", clients), ("Memory", memory), ("Persistence", persistence),
            ("Stats", stats), ("Replication", replication), ("CPU", cpu), ("Modules", ""),
            ("Errorstats", "errorstat_ERR:count=23\r\n"), ("Cluster", "cluster_enabled:0\r\n"),
            ("Keyspace", keyspaceSection),
        ]
    }

    /// The build id Debian's package prints (a hash baked in at build time, printed with %llx), per release.
    static let debianBuildIDs = ["7.0.15": "ae4d7c971a948f0"]

    /// How many commands `COMMAND COUNT` reports, per release (the server's command table, not what is served).
    static let commandCounts = ["7.0": 240]
}
