// netcheck runs in a pod on the local cluster's real node and checks, from inside the pod
// network, what e2e/harness/tests/real_node.rs asks for. Every mode prints one JSON line on
// stdout and exits 0 on success, 1 on failure (with the error on stderr).
//
//	netcheck api [URL]        in-cluster config as client-go and kube-rs read it: the server from
//	                          KUBERNETES_SERVICE_HOST/PORT (or URL, e.g. https://kubernetes.default.svc),
//	                          the service account's token and CA; GET /version and POST a
//	                          SelfSubjectReview (who the API server says the token is)
//	netcheck resolve NAME...  the addresses the pod's resolver (resolv.conf) returns for each name
//	netcheck http URL [BODY]  GET URL (POST BODY as JSON when given); prints the status and body
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

const saDir = "/var/run/secrets/kubernetes.io/serviceaccount"

func main() {
	if len(os.Args) < 2 {
		fail(errors.New("usage: netcheck api [URL] | resolve NAME... | http URL [BODY]"))
	}
	var out any
	var err error
	switch args := os.Args[2:]; os.Args[1] {
	case "api":
		out, err = api(args)
	case "resolve":
		out, err = resolve(args)
	case "http":
		out, err = httpCall(args)
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
	line, _ := json.Marshal(out)
	fmt.Println(string(line))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "netcheck:", err)
	os.Exit(1)
}

// retry runs f until it succeeds or 20 s have passed: a fresh pod may start before the
// node's Service rules or DNS records for what it calls exist.
func retry[T any](f func() (T, error)) (T, error) {
	deadline := time.Now().Add(20 * time.Second)
	for {
		v, err := f()
		if err == nil || time.Now().After(deadline) {
			return v, err
		}
		fmt.Fprintln(os.Stderr, "netcheck: retrying:", err)
		time.Sleep(500 * time.Millisecond)
	}
}

func api(args []string) (any, error) {
	server := ""
	if len(args) > 0 {
		server = strings.TrimSuffix(args[0], "/")
	} else {
		host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
		if host == "" || port == "" {
			return nil, errors.New("KUBERNETES_SERVICE_HOST/PORT not set: not in a pod?")
		}
		server = "https://" + net.JoinHostPort(host, port)
	}
	token, err := os.ReadFile(saDir + "/token")
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(saDir + "/ca.crt")
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("no certificate in " + saDir + "/ca.crt")
	}
	// The CA of the service account only: the API server's certificate must name the host used.
	client := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	call := func(method, path string, body []byte) (map[string]any, error) {
		req, err := http.NewRequest(method, server+path, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, data)
		}
		var v map[string]any
		return v, json.Unmarshal(data, &v)
	}
	version, err := retry(func() (map[string]any, error) { return call("GET", "/version", nil) })
	if err != nil {
		return nil, err
	}
	review, err := call("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
		[]byte(`{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`))
	if err != nil {
		return nil, err
	}
	user := ""
	if st, ok := review["status"].(map[string]any); ok {
		if ui, ok := st["userInfo"].(map[string]any); ok {
			user, _ = ui["username"].(string)
		}
	}
	return map[string]any{"server": server, "gitVersion": version["gitVersion"], "username": user}, nil
}

func resolve(names []string) (any, error) {
	out := map[string][]string{}
	for _, name := range names {
		addrs, err := retry(func() ([]string, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			return net.DefaultResolver.LookupHost(ctx, name)
		})
		if err != nil {
			return nil, err
		}
		out[name] = addrs
	}
	return out, nil
}

func httpCall(args []string) (any, error) {
	if len(args) < 1 {
		return nil, errors.New("http needs a URL")
	}
	client := &http.Client{Timeout: 5 * time.Second}
	return retry(func() (map[string]any, error) {
		var resp *http.Response
		var err error
		if len(args) > 1 {
			resp, err = client.Post(args[0], "application/json", strings.NewReader(args[1]))
		} else {
			resp, err = client.Get(args[0])
		}
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			return nil, fmt.Errorf("%s: %s: %s", args[0], resp.Status, data)
		}
		return map[string]any{"status": resp.StatusCode, "body": string(data)}, nil
	})
}
