extension TTPRuleSet {
    /// The default rules: what the services capture today, mapped to ATT&CK. Each names where its technique
    /// comes from in the events; an operator's file replaces a rule by giving its id (see `TTPRule`).
    public static let defaultText = #"""
        # Reconnaissance and discovery seen by the packet layer.
        [R0001]
        name = Port scan of a decky
        technique = T1046
        events = scan.detected
        scan_types = tcp_syn, tcp_connect, tcp_null, tcp_fin, tcp_xmas, tcp_ack, tcp_maimon, tcp_odd_flags, udp, version_probe, os_detection

        [R0002]
        name = Active scanning
        technique = T1595
        events = scan.detected

        [R0003]
        name = Host discovery sweep
        technique = T1018
        events = scan.detected
        scan_types = icmp_echo, icmp_timestamp, icmp_address_mask, arp_sweep

        [R0004]
        name = Vulnerability scanner's requests
        technique = T1595.002
        field.user_agent = nikto|nuclei|sqlmap|Nmap Scripting Engine|zgrab|masscan|wpscan|dirbuster|gobuster|ffuf|wfuzz

        # Credentials.
        [R0010]
        name = Repeated failed logins
        technique = T1110
        events = login.failed
        min_count = 5
        window = 300

        [R0011]
        name = Password guessing (one account, many passwords)
        technique = T1110.001
        behaviour = brute-forcer

        [R0012]
        name = Credential stuffing (a list of pairs)
        technique = T1110.004
        behaviour = credential-stuffer

        [R0013]
        name = Login accepted
        technique = T1078
        events = login.success

        [R0014]
        name = SSH login
        technique = T1021.004
        events = login.success
        services = ssh

        [R0015]
        name = SMB login
        technique = T1021.002
        events = login.success, login.failed
        services = smb

        [R0016]
        name = RDP logon
        technique = T1021.001
        events = login.success, login.failed
        services = rdp

        [R0017]
        name = VNC authentication
        technique = T1021.005
        events = login.success, login.failed
        services = vnc

        # A shell.
        [R0020]
        name = Commands in a Unix shell
        technique = T1059.004
        events = command.input
        services = ssh, telnet
        command = ^(?!(GET|POST|HEAD|PUT|DELETE|PATCH|OPTIONS) /)\S

        [R0021]
        name = Tool fetched into the decky
        technique = T1105
        events = command.input
        command = (^|[;&|]\s*|/)(wget|curl|tftp|ftpget|fetch)\s

        [R0022]
        name = File uploaded to the decky
        technique = T1105
        events = file.upload

        [R0023]
        name = System information
        technique = T1082
        events = command.input
        command = ^(uname|hostnamectl|lscpu|lsb_release)\b|/proc/(cpuinfo|version|meminfo)|/etc/(os-release|issue)

        [R0024]
        name = Who am I
        technique = T1033
        events = command.input
        command = ^(id|whoami|w|who|last)(\s|$)

        [R0025]
        name = Local accounts
        technique = T1087.001
        events = command.input
        command = /etc/passwd|^getent\s+passwd|^lastlog\b

        [R0026]
        name = Password hashes
        technique = T1003.008
        events = command.input
        command = /etc/(shadow|gshadow)

        [R0027]
        name = Processes
        technique = T1057
        events = command.input
        command = ^(ps|top|htop|pstree)(\s|$)

        [R0028]
        name = Network connections
        technique = T1049
        events = command.input
        command = ^(netstat|ss|lsof\s+-i)(\s|$)

        [R0029]
        name = Network configuration
        technique = T1016
        events = command.input
        command = ^(ifconfig|ip\s+(a|addr|address|r|route|link)|route|arp|cat\s+/etc/resolv\.conf)(\s|$)

        [R0030]
        name = Files and directories
        technique = T1083
        events = command.input
        command = ^(ls|find|tree|locate|dir)(\s|$)

        [R0031]
        name = SSH to another host
        technique = T1021.004
        events = command.input
        command = ^(ssh|sshpass|scp)\s

        [R0032]
        name = Cron job
        technique = T1053.003
        events = command.input
        command = crontab|/etc/cron|/var/spool/cron

        [R0033]
        name = SSH authorized keys
        technique = T1098.004
        events = command.input
        command = authorized_keys

        [R0034]
        name = Local account created
        technique = T1136.001
        events = command.input
        command = ^(useradd|adduser)\s|chpasswd

        [R0035]
        name = History cleared
        technique = T1070.003
        events = command.input
        command = history\s+-c|\.bash_history|unset\s+HISTFILE|HISTSIZE=0

        [R0036]
        name = Made executable
        technique = T1222.002
        events = command.input
        command = ^chmod\s+(\+x|[0-7]*[1357][0-7]*\s)|;\s*chmod\s+\+x

        [R0037]
        name = Credentials in files
        technique = T1552.001
        events = command.input
        command = \.aws/credentials|\.env\b|wp-config\.php|\.git-credentials|\.pgpass|\.my\.cnf|id_rsa

        [R0038]
        name = Coin miner
        technique = T1496
        events = command.input
        command = xmrig|minerd|cpuminer|stratum\+tcp|nicehash

        [R0039]
        name = Port forwarding through the decky
        technique = T1090
        events = command.input
        services = ssh
        command = ^(direct-tcpip|tcpip-forward|direct-streamlocal)

        # Applications and data.
        [R0040]
        name = Exploit attempt against a service
        technique = T1190
        behaviour = exploit-attempt

        [R0041]
        name = Data read from a database or index
        technique = T1213
        events = command.input
        services = mysql, postgres, mssql, mongodb, elasticsearch, redis
        command = select|find|aggregate|_search|keys|get\s|scan|dump

        [R0042]
        name = Container deployed through the Docker API
        technique = T1610
        events = command.input
        services = docker_api, k8s
        command = ^POST\s+\S*/(containers/create|pods)

        [R0043]
        name = Containers and cluster resources listed
        technique = T1613
        events = command.input
        services = docker_api, k8s
        command = ^GET\s+\S*/(containers/json|images/json|pods|namespaces|secrets|nodes|deployments)

        [R0044]
        name = LLMNR/NBT-NS poisoner on the LAN
        technique = T1557.001
        events = poisoner.detected

        # From the profile.
        [R0050]
        name = Moved on to another decky
        technique = T1021
        phase = lateral-movement
        """#
}
