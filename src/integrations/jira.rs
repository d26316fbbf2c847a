//! Jira Cloud REST API v3: create an issue.
//! <https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-post>

use serde::Deserialize;
use serde_json::{Map, Value, json};
use url::Url;

use super::{Credentials, IntegrationError, http_failure, network_failure};

/// Where Jira is and who calls it (the API token is the `JIRA_API_TOKEN` secret).
#[derive(Debug, Clone)]
pub struct JiraConfig {
    /// Site URL, e.g. `https://acme.atlassian.net`.
    pub base_url: Url,
    /// The Atlassian account's e-mail.
    pub email: String,
}

/// An issue to create, as scripts describe it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IssueRequest {
    /// Project key, e.g. `OPS`.
    pub project: String,
    /// Summary (one line).
    pub summary: String,
    /// Issue type name; default `Task`.
    pub issue_type: Option<String>,
    /// Plain-text description; lines become paragraphs.
    pub description: Option<String>,
    /// Labels.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Priority name, e.g. `Highest`.
    pub priority: Option<String>,
    /// More fields, passed as they are (custom fields).
    #[serde(default)]
    pub fields: Map<String, Value>,
}

/// Jira's description format (Atlassian Document Format): one paragraph per line.
fn adf(text: &str) -> Value {
    let content: Vec<Value> = text
        .lines()
        .map(|line| {
            if line.is_empty() {
                json!({ "type": "paragraph", "content": [] })
            } else {
                json!({ "type": "paragraph", "content": [{ "type": "text", "text": line }] })
            }
        })
        .collect();
    json!({ "type": "doc", "version": 1, "content": content })
}

pub(super) async fn create_issue(
    http: &reqwest::Client,
    config: &JiraConfig,
    credentials: &dyn Credentials,
    issue: &IssueRequest,
) -> Result<Value, IntegrationError> {
    let token = super::credentials::require(
        credentials,
        "JIRA_API_TOKEN",
        "Jira",
        "an Atlassian API token",
    )
    .await?;
    let mut fields = issue.fields.clone();
    fields.insert("project".into(), json!({ "key": issue.project }));
    fields.insert("summary".into(), json!(issue.summary));
    fields.insert(
        "issuetype".into(),
        json!({ "name": issue.issue_type.as_deref().unwrap_or("Task") }),
    );
    if let Some(description) = &issue.description {
        fields.insert("description".into(), adf(description));
    }
    if !issue.labels.is_empty() {
        fields.insert("labels".into(), json!(issue.labels));
    }
    if let Some(priority) = &issue.priority {
        fields.insert("priority".into(), json!({ "name": priority }));
    }
    let url = config
        .base_url
        .join("rest/api/3/issue")
        .map_err(|e| IntegrationError::permanent(format!("bad JIRA_BASE_URL: {e}")))?;
    let response = http
        .post(url)
        .basic_auth(&config.email, Some(token.expose()))
        .header("Accept", "application/json")
        .json(&json!({ "fields": fields }))
        .send()
        .await
        .map_err(|e| network_failure("Jira", &e))?;
    if !response.status().is_success() {
        return Err(http_failure("Jira", response, "JIRA_EMAIL and JIRA_API_TOKEN").await);
    }
    let created: Value = response
        .json()
        .await
        .map_err(|e| IntegrationError::transient(format!("Jira: unreadable answer: {e}")))?;
    let key = created
        .get("key")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let browse = config
        .base_url
        .join(&format!("browse/{key}"))
        .map(|u| u.to_string())
        .unwrap_or_default();
    Ok(json!({ "id": created.get("id"), "key": key, "url": browse }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_become_document_paragraphs() {
        assert_eq!(
            adf("one\n\ntwo"),
            json!({ "type": "doc", "version": 1, "content": [
                { "type": "paragraph", "content": [{ "type": "text", "text": "one" }] },
                { "type": "paragraph", "content": [] },
                { "type": "paragraph", "content": [{ "type": "text", "text": "two" }] },
            ]})
        );
    }
}
