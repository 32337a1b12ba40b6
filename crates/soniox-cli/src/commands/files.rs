//! `soniox files`: list, get, delete and upload files.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use soniox_types::{File, FileId};

use crate::{
    context::Context,
    failure::Failure,
    listing::{ListArgs, print_deleted, print_stream, timestamp},
    progress,
};

/// Manage uploaded files.
// Reads as `Command`'s doc in main.rs, which this replaces once the subcommand is built.
#[derive(Debug, Args)]
pub(crate) struct FilesArgs {
    #[command(subcommand)]
    command: FilesCommand,
}

#[derive(Debug, Subcommand)]
enum FilesCommand {
    /// List every file, newest first: id, filename, size, upload time.
    List(ListArgs),
    /// Show files.
    Get {
        /// File ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Delete files.
    Delete {
        /// File ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Upload files and print them.
    Upload {
        /// Files to upload.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// A reference of your own, returned on the file.
        #[arg(long, value_name = "ID")]
        client_reference_id: Option<String>,
    },
}

fn line(file: &File) -> String {
    format!(
        "{}\t{}\t{}\t{}",
        file.id,
        file.filename,
        file.size,
        timestamp(file.created_at)
    )
}

pub(crate) async fn run(context: &mut Context, args: FilesArgs) -> Result<(), Failure> {
    let client = context.client().await?;
    let output = context.output;
    match args.command {
        FilesCommand::List(list) => {
            print_stream(output, client.files().list(list.params()), line).await
        }
        FilesCommand::Get { ids } => {
            for id in ids {
                let file = client.files().get(&FileId::new(id)).await?;
                output.record(&file, || line(&file))?;
            }
            Ok(())
        }
        FilesCommand::Delete { ids } => {
            for id in ids {
                let id = FileId::new(id);
                client.files().delete(&id).await?;
                print_deleted(output, &id)?;
            }
            Ok(())
        }
        FilesCommand::Upload {
            paths,
            client_reference_id,
        } => {
            for path in paths {
                let tracked = progress::upload_with_bar(output, &path);
                let mut upload = tracked.upload;
                if let Some(reference) = &client_reference_id {
                    upload = upload.client_reference_id(reference.clone());
                }
                let uploaded = client.files().upload(upload).await;
                progress::clear(tracked.bar);
                let file = uploaded?;
                output.record(&file, || line(&file))?;
            }
            Ok(())
        }
    }
}
