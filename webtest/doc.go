// Package webtest drives zccpd's dashboard in a real headless Chromium
// (Debian's chromium, through the DevTools protocol with chromedp). It is
// its own module so that chromedp stays out of the product's
// dependencies. Run with make test-web (installs chromium when missing).
package webtest
