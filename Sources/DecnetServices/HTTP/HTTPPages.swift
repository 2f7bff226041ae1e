import DecnetCore
import Foundation

/// The pages a web server persona serves: its default page, its error pages, and the login pages of the
/// `fake_app` it pretends to run. Each family (nginx, Apache, IIS) writes errors its own way.
enum HTTPPages {
    /// The server family, from the Server header.
    enum Family: Equatable {
        case nginx
        case apache
        case iis
        /// Go's net/http (dockerd and other Go daemons): its request reader only; never chosen from a Server header.
        case go
        case other
    }

    static func family(_ server: String) -> Family {
        let lower = server.lowercased()
        if lower.hasPrefix("nginx") { return .nginx }
        if lower.hasPrefix("apache") { return .apache }
        if lower.contains("iis") { return .iis }
        return .other
    }

    static func reason(_ code: Int) -> String {
        switch code {
        case 200: "OK"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 413: "Request Entity Too Large"
        case 414: "Request-URI Too Long"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 503: "Service Unavailable"
        case 505: "HTTP Version Not Supported"
        default: "Unknown"
        }
    }

    /// The reason phrase the family's server writes (nginx has its own for 405 and 414).
    static func reason(_ code: Int, family: Family) -> String {
        switch (family, code) {
        case (.nginx, 405), (.other, 405): "Not Allowed"
        case (.nginx, 414), (.other, 414): "Request-URI Too Large"
        default: self.reason(code)
        }
    }

    /// The content type of the family's error pages.
    static func errorContentType(_ family: Family) -> String {
        family == .apache ? "text/html; charset=iso-8859-1" : "text/html"
    }

    /// An error page as the family's server writes it. Apache names the host the client asked for (or its own
    /// name) and the port, and explains some statuses with the method.
    static func error(_ code: Int, server: String, host: String, port: Int, method: String = "GET") -> String {
        let reason = self.reason(code, family: self.family(server))
        switch self.family(server) {
        case .nginx, .go, .other:
            return
                "<html>\r\n<head><title>\(code) \(reason)</title></head>\r\n<body>\r\n<center><h1>\(code) \(reason)</h1></center>\r\n<hr><center>\(server)</center>\r\n</body>\r\n</html>\r\n"
        case .apache:
            let detail: String
            switch code {
            case 400: detail = "<p>Your browser sent a request that this server could not understand.<br />\n</p>"
            case 401:
                detail =
                    "<p>This server could not verify that you\nare authorized to access the document\nrequested.  Either you supplied the wrong\ncredentials (e.g., bad password), or your\nbrowser doesn't understand how to supply\nthe credentials required.</p>"
            case 404: detail = "<p>The requested URL was not found on this server.</p>"
            case 405: detail = "<p>The requested method \(HTMLText.escape(method)) is not allowed for this URL.</p>"
            case 413:
                detail =
                    "The requested resource does not allow request data with \(HTMLText.escape(method)) requests, or the amount of data provided in\nthe request exceeds the capacity limit.\n"
            case 414:
                detail = "<p>The requested URL's length exceeds the capacity\nlimit for this server.<br />\n</p>"
            case 501: detail = "<p>\(HTMLText.escape(method)) not supported for current URL.<br />\n</p>"
            case 503:
                detail =
                    "<p>The server is temporarily unable to service your\nrequest due to maintenance downtime or capacity\nproblems. Please try again later.</p>"
            default: detail = "<p>You don't have permission to access this resource.</p>"
            }
            return
                "\(self.apacheDoctype(server))\n<html><head>\n<title>\(code) \(reason)</title>\n</head><body>\n<h1>\(reason)</h1>\n\(detail)\n<hr>\n<address>\(server) Server at \(host) Port \(port)</address>\n</body></html>\n"
        case .iis:
            return
                "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd\">\r\n<html xmlns=\"http://www.w3.org/1999/xhtml\">\r\n<head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\"/>\r\n<title>\(code) - \(reason)</title>\r\n</head>\r\n<body>\r\n<div id=\"header\"><h1>Server Error</h1></div>\r\n<div id=\"content\">\r\n <div class=\"content-container\"><fieldset>\r\n  <h2>\(code) - \(reason).</h2>\r\n </fieldset></div>\r\n</div>\r\n</body>\r\n</html>\r\n"
        }
    }

    /// Apache's error pages declared HTML 2.0 until 2.4.66 (PR 62989 made them HTML 4.01 Strict; Debian 12's
    /// 2.4.71 sends the latter).
    static func apacheDoctype(_ server: String) -> String {
        let version = server.split(separator: "/").dropFirst().first.map { $0.prefix { $0 != " " } } ?? ""
        let parts = version.split(separator: ".").map { Int($0) ?? 0 }
        let modern = parts.count == 3 && (parts[0], parts[1], parts[2]) >= (2, 4, 66)
        return modern
            ? "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\" \"http://www.w3.org/TR/html4/strict.dtd\">"
            : "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">"
    }

    static func defaultPage(server: String) -> String {
        switch self.family(server) {
        case .nginx, .go, .other:
            return
                "<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n<style>\nhtml { color-scheme: light dark; }\nbody { width: 35em; margin: 0 auto;\nfont-family: Tahoma, Verdana, Arial, sans-serif; }\n</style>\n</head>\n<body>\n<h1>Welcome to nginx!</h1>\n<p>If you see this page, the nginx web server is successfully installed and\nworking. Further configuration is required.</p>\n\n<p>For online documentation and support please refer to\n<a href=\"http://nginx.org/\">nginx.org</a>.<br/>\nCommercial support is available at\n<a href=\"http://nginx.com/\">nginx.com</a>.</p>\n\n<p><em>Thank you for using nginx.</em></p>\n</body>\n</html>\n"
        case .apache:
            // Ubuntu's page is Debian's with its own name.
            let page = ApacheDebianDefaultPage.html
            return server.contains("Ubuntu") ? page.replacingOccurrences(of: "Debian", with: "Ubuntu") : page
        case .iis:
            return
                "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd\">\r\n<html xmlns=\"http://www.w3.org/1999/xhtml\">\r\n<head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\" />\r\n<title>IIS Windows Server</title>\r\n</head>\r\n<body>\r\n<div id=\"container\">\r\n<a href=\"http://go.microsoft.com/fwlink/?linkid=66138&amp;clcid=0x409\"><img src=\"iisstart.png\" alt=\"IIS\" width=\"960\" height=\"600\" /></a>\r\n</div>\r\n</body>\r\n</html>"
        }
    }

    /// WordPress 6.4's login form, with an error box when `error` is set.
    static func wordpressLogin(site: String, error: String?) -> String {
        let box = error.map { "<div id=\"login_error\">\t\($0)<br />\n</div>\n" } ?? ""
        return """
            <!DOCTYPE html>
            <html lang="en-US">
            <head>
            <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
            <title>Log In &lsaquo; \(site) &#8212; WordPress</title>
            <meta name='robots' content='max-image-preview:large, noindex, noarchive' />
            <link rel='stylesheet' id='login-css' href='/wp-admin/css/login.min.css?ver=6.4.3' media='all' />
            </head>
            <body class="login no-js login-action-login wp-core-ui  locale-en-us">
            <div id="login">
            <h1><a href="https://wordpress.org/">Powered by WordPress</a></h1>
            \(box)<form name="loginform" id="loginform" action="/wp-login.php" method="post">
            <p><label for="user_login">Username or Email Address</label>
            <input type="text" name="log" id="user_login" class="input" value="" size="20" autocapitalize="off" autocomplete="username" required="required" /></p>
            <div class="user-pass-wrap"><label for="user_pass">Password</label>
            <div class="wp-pwd"><input type="password" name="pwd" id="user_pass" class="input password-input" value="" size="20" autocomplete="current-password" spellcheck="false" required="required" /></div></div>
            <p class="forgetmenot"><input name="rememberme" type="checkbox" id="rememberme" value="forever"  /> <label for="rememberme">Remember Me</label></p>
            <p class="submit"><input type="submit" name="wp-submit" id="wp-submit" class="button button-primary button-large" value="Log In" />
            <input type="hidden" name="redirect_to" value="/wp-admin/" /><input type="hidden" name="testcookie" value="1" /></p>
            </form>
            <p id="nav"><a href="/wp-login.php?action=lostpassword">Lost your password?</a></p>
            </div>
            </body>
            </html>

            """
    }

    static func wordpressHome(site: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en-US">
        <head>
        <meta charset="UTF-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>\(site)</title>
        <meta name="generator" content="WordPress 6.4.3" />
        <link rel="https://api.w.org/" href="/wp-json/" />
        <link rel="EditURI" type="application/rsd+xml" title="RSD" href="/xmlrpc.php?rsd" />
        <link rel='stylesheet' id='wp-block-library-css' href='/wp-includes/css/dist/block-library/style.min.css?ver=6.4.3' media='all' />
        </head>
        <body class="home blog wp-embed-responsive">
        <header class="wp-block-template-part"><p class="wp-block-site-title"><a href="/" rel="home">\(site)</a></p></header>
        <main><h2 class="wp-block-post-title"><a href="/2024/09/09/hello-world/">Hello world!</a></h2>
        <p>Welcome to WordPress. This is your first post. Edit or delete it, then start writing!</p></main>
        </body>
        </html>

        """
    }

    static func adminLogin(error: String?) -> String {
        let box = error.map { "<div class=\"alert alert-danger\">\($0)</div>\n" } ?? ""
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head><meta charset="utf-8"><title>Administration - Sign in</title></head>
            <body>
            <div class="container"><h2>Administration</h2>
            \(box)<form method="post" action="/login">
            <input type="text" name="username" placeholder="Username" autofocus>
            <input type="password" name="password" placeholder="Password">
            <button type="submit">Sign in</button>
            </form></div>
            </body>
            </html>

            """
    }
}
