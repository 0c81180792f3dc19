"""A small built-in set of common AWS managed policies (``arn:aws:iam::aws:policy/...``).

Enough for deployment tools to attach the usual Lambda execution policies and broad
service policies; the documents follow AWS's published defaults in simplified form.
They are read-only and never stored: only attachments to them are.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

import orjson

# 2015-02-06, when AWS's oldest managed policies were published (their CreateDate).
_PUBLISHED_MS = 1_423_180_800_000

_LOGS = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]


def _allow(*statements: tuple[list[str] | str, str | list[str]]) -> str:
    doc = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": a, "Resource": r} for a, r in statements],
    }
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode()


@dataclass(frozen=True)
class AwsManagedPolicy:
    name: str
    path: str
    description: str
    document: str
    version_id: str = "v1"

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::aws:policy{self.path}{self.name}"

    @property
    def policy_id(self) -> str:
        # Stable across restarts and servers: derived from the ARN.
        digest = base64.b32encode(hashlib.sha256(self.arn.encode()).digest()).decode()
        return "ANPA" + digest[:17]

    @property
    def created_at(self) -> int:
        return _PUBLISHED_MS


_SERVICE_ROLE = "/service-role/"

POLICIES: tuple[AwsManagedPolicy, ...] = (
    AwsManagedPolicy("AdministratorAccess", "/", "Provides full access to AWS services and resources.",
                     _allow(("*", "*"))),
    AwsManagedPolicy("PowerUserAccess", "/", "Provides full access to AWS services and resources, but does not allow management of Users and groups.",
                     orjson.dumps({"Version": "2012-10-17", "Statement": [
                         {"Effect": "Allow", "NotAction": ["iam:*", "organizations:*", "account:*"], "Resource": "*"},
                     ]}, option=orjson.OPT_INDENT_2).decode()),
    AwsManagedPolicy("AWSLambdaBasicExecutionRole", _SERVICE_ROLE, "Provides write permissions to CloudWatch Logs.",
                     _allow((_LOGS, "*"))),
    AwsManagedPolicy("AWSLambdaSQSQueueExecutionRole", _SERVICE_ROLE, "Provides receive message, delete message, and read attribute access to SQS queues, and write permissions to CloudWatch logs.",
                     _allow((["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", *_LOGS], "*"))),
    AwsManagedPolicy("AWSLambdaVPCAccessExecutionRole", _SERVICE_ROLE, "Provides minimum permissions for a Lambda function to execute while accessing a resource within a VPC - create, describe, delete network interfaces and write permissions to CloudWatch Logs. ",
                     _allow(([*_LOGS, "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
                              "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"], "*"))),
    AwsManagedPolicy("AWSLambdaKinesisExecutionRole", _SERVICE_ROLE, "Provides list and read access to Kinesis streams and write permissions to CloudWatch logs.",
                     _allow((["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
                              "kinesis:GetShardIterator", "kinesis:ListShards", "kinesis:ListStreams",
                              "kinesis:SubscribeToShard", *_LOGS], "*"))),
    AwsManagedPolicy("AWSLambdaDynamoDBExecutionRole", _SERVICE_ROLE, "Provides list and read access to DynamoDB streams and write permissions to CloudWatch logs.",
                     _allow((["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                              "dynamodb:ListStreams", *_LOGS], "*"))),
    AwsManagedPolicy("AWSLambdaRole", _SERVICE_ROLE, "Default policy for AWS Lambda service role.",
                     _allow((["lambda:InvokeFunction"], ["*"]))),
    AwsManagedPolicy("AWSLambdaExecute", "/", "Provides Put, Get access to S3 and full access to CloudWatch Logs.",
                     _allow((["logs:*"], "arn:aws:logs:*:*:*"), (["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::*"))),
    AwsManagedPolicy("AWSLambda_FullAccess", "/", "Grants full access to AWS Lambda service, AWS Lambda console features, and other related AWS services.",
                     _allow((["lambda:*", "logs:*", "sqs:*", "sns:*", "iam:GetRole", "iam:ListRoles", "iam:PassRole"], "*"))),
    AwsManagedPolicy("AWSLambda_ReadOnlyAccess", "/", "Grants read-only access to AWS Lambda service, AWS Lambda console features, and other related AWS services.",
                     _allow((["lambda:Get*", "lambda:List*", "logs:DescribeLogGroups", "logs:DescribeLogStreams", "logs:GetLogEvents"], "*"))),
    AwsManagedPolicy("AWSXRayDaemonWriteAccess", "/", "Allow the AWS X-Ray Daemon to relay raw trace segments data to the service's API and retrieve sampling data (rules, targets, etc.) to be used by the X-Ray SDK.",
                     _allow((["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
                              "xray:GetSamplingTargets", "xray:GetSamplingStatisticSummaries"], "*"))),
    AwsManagedPolicy("AmazonSQSFullAccess", "/", "Provides full access to Amazon SQS via the AWS Management Console.",
                     _allow((["sqs:*"], "*"))),
    AwsManagedPolicy("AmazonSQSReadOnlyAccess", "/", "Provides read only access to Amazon SQS via the AWS Management Console.",
                     _allow((["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ListDeadLetterSourceQueues",
                              "sqs:ListQueues", "sqs:ListMessageMoveTasks", "sqs:ListQueueTags"], "*"))),
    AwsManagedPolicy("AmazonSNSFullAccess", "/", "Provides full access to Amazon SNS via the AWS Management Console.",
                     _allow((["sns:*"], "*"))),
    AwsManagedPolicy("AmazonSNSReadOnlyAccess", "/", "Provides read only access to Amazon SNS via the AWS Management Console.",
                     _allow((["sns:GetTopicAttributes", "sns:List*", "sns:CheckIfPhoneNumberIsOptedOut",
                              "sns:GetEndpointAttributes", "sns:GetPlatformApplicationAttributes",
                              "sns:GetSMSAttributes", "sns:GetSubscriptionAttributes"], "*"))),
    AwsManagedPolicy("CloudWatchLogsFullAccess", "/", "Provides full access to CloudWatch Logs",
                     _allow((["logs:*"], "*"))),
    AwsManagedPolicy("CloudWatchLogsReadOnlyAccess", "/", "Provides read only access to CloudWatch Logs",
                     _allow((["logs:Describe*", "logs:Get*", "logs:List*", "logs:StartQuery", "logs:StopQuery",
                              "logs:TestMetricFilter", "logs:FilterLogEvents"], "*"))),
    AwsManagedPolicy("AmazonS3FullAccess", "/", "Provides full access to all buckets via the AWS Management Console.",
                     _allow((["s3:*", "s3-object-lambda:*"], "*"))),
    AwsManagedPolicy("AmazonS3ReadOnlyAccess", "/", "Provides read only access to all buckets via the AWS Management Console.",
                     _allow((["s3:Get*", "s3:List*", "s3:Describe*", "s3-object-lambda:Get*", "s3-object-lambda:List*"], "*"))),
    AwsManagedPolicy("IAMFullAccess", "/", "Provides full access to IAM via the AWS Management Console.",
                     _allow((["iam:*", "organizations:DescribeAccount", "organizations:DescribeOrganization",
                              "organizations:DescribeOrganizationalUnit", "organizations:DescribePolicy",
                              "organizations:ListChildren", "organizations:ListParents",
                              "organizations:ListPoliciesForTarget", "organizations:ListRoots",
                              "organizations:ListPolicies", "organizations:ListTargetsForPolicy"], "*"))),
    AwsManagedPolicy("IAMReadOnlyAccess", "/", "Provides read only access to IAM via the AWS Management Console.",
                     _allow((["iam:GenerateCredentialReport", "iam:GenerateServiceLastAccessedDetails",
                              "iam:Get*", "iam:List*", "iam:SimulateCustomPolicy", "iam:SimulatePrincipalPolicy"], "*"))),
)

BY_ARN: dict[str, AwsManagedPolicy] = {p.arn: p for p in POLICIES}
