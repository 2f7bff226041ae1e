import DecnetServiceKit

extension ServiceRegistry {
    /// The emulators DECNET-Swift ships, one line each.
    public static let builtin = ServiceRegistry(
        [
            RedisService.self,
            K8sService.self,
            SIPService.self,
            ConpotService.self,
            MongoDBService.self,
            SMTPService.self,
            POP3Service.self,
            IMAPService.self,
            MySQLService.self,
            PostgresService.self,
            FTPService.self,
            HTTPService.self,
            TelnetService.self,
            SSHService.self,
            SMBService.self,
            VNCService.self,
            MSSQLService.self,
            RDPService.self,
            LDAPService.self,
            MQTTService.self,
            DockerAPIService.self,
            ElasticsearchService.self,
            CanaryService.self,
        ],
        datagram: [
            SIPDatagramService.self, ConpotSNMPService.self, LLMNRService.self, SQLBrowserService.self,
            SNMPService.self, TFTPService.self, CanaryDNSService.self,
        ]
    )
}
